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
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CAIRN_") }
        if let token { env["CAIRN_TOKEN"] = token }
        env.merge(environment) { _, new in new }

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
}

/// A server for one test, stopped when `body` ends (however it ends).
func withServer<T>(_ body: (TestServer) async throws -> T) async throws -> T {
    let server = try await TestServer()
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
