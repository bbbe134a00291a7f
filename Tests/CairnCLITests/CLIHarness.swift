import Cairn
import CairnTestSupport
import Foundation
import Testing

/// What one run of the `cairn` executable did.
struct CLIResult: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String

    /// stdout as one JSON value (what `--json` prints); nil when it is not exactly one.
    var json: JSONValue? {
        let lines = stdout.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.count == 1 else { return nil }
        return try? JSONValue(parsing: String(lines[0]))
    }

    var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
}

enum CLI {
    /// The built `cairn`: `CAIRN_CLI_PATH`, or the one in the build products folder the test
    /// bundle runs from (on Linux the test binary sits beside it; on macOS it is inside an
    /// `.xctest` bundle a few levels below).
    static let executable: URL? = {
        let fm = FileManager.default
        func isExecutable(_ url: URL) -> Bool {
            var isDirectory: ObjCBool = false
            return fm.fileExists(atPath: url.path, isDirectory: &isDirectory) && !isDirectory.boolValue
                && fm.isExecutableFile(atPath: url.path)
        }
        if let path = ProcessInfo.processInfo.environment["CAIRN_CLI_PATH"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        for start in [URL(fileURLWithPath: CommandLine.arguments[0]), Bundle.main.bundleURL] {
            var dir = start.resolvingSymlinksInPath().deletingLastPathComponent()
            for _ in 0..<5 {
                let candidate = dir.appendingPathComponent("cairn")
                if isExecutable(candidate) { return candidate }
                dir = dir.deletingLastPathComponent()
            }
        }
        return nil
    }()

    /// Runs `cairn arguments…` with `token` in `CAIRN_TOKEN` (none when nil), `stdin` on its
    /// standard input (empty when nil) and no other `CAIRN_*` variable unless in `environment`.
    /// Waits without blocking a thread, so the in-process server keeps serving meanwhile.
    static func run(
        _ arguments: [String], token: String? = nil, stdin: String? = nil, environment: [String: String] = [:]
    ) async throws -> CLIResult {
        let executable = try #require(executable, "the cairn executable was not found; build it first or set CAIRN_CLI_PATH")
        return try await run(executable, arguments, environment: Self.environment(token: token, environment), stdin: stdin)
    }

    /// Runs `executable arguments…` with exactly `env`; killed (and the test failed) when
    /// `timeout` seconds pass first.
    static func run(
        _ executable: URL, _ arguments: [String], environment env: [String: String], stdin: String? = nil, timeout: Double? = nil
    ) async throws -> CLIResult {

        let fm = FileManager.default
        let base = fm.temporaryDirectory.appendingPathComponent("cairn-cli-\(UUID().uuidString)")
        let outURL = base.appendingPathExtension("out"), errURL = base.appendingPathExtension("err")
        let inURL = base.appendingPathExtension("in")
        _ = fm.createFile(atPath: outURL.path, contents: nil)
        _ = fm.createFile(atPath: errURL.path, contents: nil)
        _ = fm.createFile(atPath: inURL.path, contents: Data((stdin ?? "").utf8))
        defer { for url in [outURL, errURL, inURL] { try? fm.removeItem(at: url) } }

        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = env
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        let input = try FileHandle(forReadingFrom: inURL)
        defer { for handle in [out, err, input] { try? handle.close() } }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        let watchdog = timeout.map { seconds in
            Task {
                try await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
                Issue.record("\(executable.lastPathComponent) \(arguments) still ran after \(seconds) s")
                process.terminate()
            }
        }
        defer { watchdog?.cancel() }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        return CLIResult(
            status: process.terminationStatus,
            stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    /// This process's environment without `CAIRN_*`, then `token` in `CAIRN_TOKEN`, a 60 s
    /// `CAIRN_CONNECT_TIMEOUT` (the suites share a busy machine: the 5 s default is for people)
    /// and `environment`.
    static func environment(token: String?, _ environment: [String: String]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CAIRN_") }
        if let token { env["CAIRN_TOKEN"] = token }
        env["CAIRN_CONNECT_TIMEOUT"] = "60"
        env.merge(environment) { _, new in new }
        return env
    }
}

/// A `cairn` started in the background (for `watch`): its stdout read line by line while it
/// runs. Killed if it still runs after `timeout` seconds, so a test that waits for a line that
/// never comes fails instead of hanging.
final class RunningCLI {
    let process: Process
    private let stdout: Pipe
    private let errURL: URL
    private let input: FileHandle
    private var lines: AsyncStream<String>.Iterator
    private let exited: AsyncStream<Int32>
    private let watchdog: Task<Void, Never>
    /// Every stdout line read so far.
    private(set) var read: [String] = []

    /// Starts `cairn arguments…` (or `executable arguments…`) as `CLI.run` does.
    init(_ arguments: [String], token: String?, executable: URL? = nil, timeout: Double = 60) throws {
        let cairn = try #require(CLI.executable, "the cairn executable was not found; build it first or set CAIRN_CLI_PATH")
        process = Process()
        process.executableURL = executable ?? cairn
        process.arguments = arguments
        process.environment = CLI.environment(token: token, [:])
        stdout = Pipe()
        errURL = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-cli-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let err = try FileHandle(forWritingTo: errURL)
        defer { try? err.close() }
        input = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/null"))
        process.standardOutput = stdout
        process.standardError = err
        process.standardInput = input

        let (lines, linesOut) = AsyncStream<String>.makeStream()
        self.lines = lines.makeAsyncIterator()
        let (exited, exit) = AsyncStream<Int32>.makeStream()
        self.exited = exited
        process.terminationHandler = { process in
            exit.yield(process.terminationStatus)
            exit.finish()
        }
        try process.run()

        // A thread of its own blocks in read(2) on the pipe and hands over whole lines.
        let fd = stdout.fileHandleForReading.fileDescriptor
        Thread.detachNewThread {
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = buffer.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
                if n < 0, errno == EINTR { continue }
                if n <= 0 { break }
                pending += buffer[0..<n]
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    linesOut.yield(String(decoding: pending[..<newline], as: UTF8.self))
                    pending.removeSubrange(...newline)
                }
            }
            if !pending.isEmpty { linesOut.yield(String(decoding: pending, as: UTF8.self)) }
            linesOut.finish()
        }
        let pid = process.processIdentifier
        watchdog = Task {
            try? await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
            if !Task.isCancelled { kill(pid, SIGKILL) }
        }
    }

    /// The next stdout line; nil once stdout is closed (the process ended).
    func nextLine() async -> String? {
        guard let line = await lines.next() else { return nil }
        read.append(line)
        return line
    }

    /// The next `n` stdout lines (fewer if stdout closes first).
    func lines(_ n: Int) async -> [String] {
        var out: [String] = []
        while out.count < n, let line = await nextLine() { out.append(line) }
        return out
    }

    /// Waits for the process to end: its status, all its stdout and its stderr.
    func wait() async throws -> CLIResult {
        var exits = exited.makeAsyncIterator()
        let status = await exits.next() ?? -1
        watchdog.cancel()
        while await nextLine() != nil {}
        defer {
            try? input.close()
            try? FileManager.default.removeItem(at: errURL)
        }
        return CLIResult(
            status: status, stdout: read.map { $0 + "\n" }.joined(),
            stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }
}

/// A server for one test, stopped when `body` ends (however it ends).
func withServer<T>(storeOptions: StoreOptions = StoreOptions(), _ body: (TestServer) async throws -> T) async throws -> T {
    let server = try await TestServer(storeOptions: storeOptions)
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

/// One test's view of the CLI: a server, a tenant of its own, and a token for it.
struct Fixture {
    let server: TestServer
    let tenant: String
    /// A tenant token with every grant but admin.
    let token: String

    init(_ server: TestServer, grants: [String] = ["read", "write"], principal: String = "cli-user") async throws {
        self.server = server
        tenant = uniqueTenant("cli")
        token = try await server.token(tenant: tenant, principal: principal, grants: grants)
    }

    /// `cairn <arguments> --url … --tenant …` (the two options go before a `--`, if any) with
    /// this fixture's token, or `token`, or none.
    func run(
        _ arguments: [String], token: String? = nil, useToken: Bool = true, stdin: String? = nil, tenant: String? = nil
    ) async throws -> CLIResult {
        let options = ["--url", server.url, "--tenant", tenant ?? self.tenant]
        let split = arguments.firstIndex(of: "--") ?? arguments.endIndex
        return try await CLI.run(
            Array(arguments[..<split]) + options + arguments[split...],
            token: useToken ? (token ?? self.token) : nil, stdin: stdin)
    }

    /// `cairn <arguments> --url … --tenant …` started in the background (see `run`).
    func start(_ arguments: [String], token: String? = nil) throws -> RunningCLI {
        try RunningCLI(arguments + ["--url", server.url, "--tenant", tenant], token: token ?? self.token)
    }

    /// The same as a server answer, through the Swift client (the reference the CLI is checked against).
    func call(_ method: String, _ params: JSONValue) async throws -> JSONValue {
        let client = try await server.client(token: token)
        do {
            let result = try await client.call(method, params)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }

    var ns: JSONValue { ["tenant": .string(tenant)] }
}

extension JSONValue {
    /// The `key` members of the objects in the array at `member`.
    func keys(in member: String) -> [String] {
        (self[member]?.arrayValue ?? []).compactMap { $0["key"]?.stringValue }
    }
}
