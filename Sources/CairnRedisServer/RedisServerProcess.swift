import CairnRedis
import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// A private `redis-server` child process on a loopback port: `cairnd`'s embedded default and
/// the test suites' real Redis.
public final class RedisServerProcess: Sendable {
    public struct Options: Sendable {
        /// Folder for the data files (created when missing).
        public var dataDirectory: String
        /// Port on 127.0.0.1; 0 picks a free one.
        public var port: Int
        /// Keep an append-only file (durable across restarts).
        public var appendOnly: Bool
        /// The `redis-server` executable; nil searches `CAIRN_REDIS_SERVER` then `PATH`.
        public var executable: String?
        /// Extra `--name value` settings.
        public var extraArguments: [String]

        public init(
            dataDirectory: String, port: Int = 0, appendOnly: Bool = true, executable: String? = nil,
            extraArguments: [String] = []
        ) {
            self.dataDirectory = dataDirectory
            self.port = port
            self.appendOnly = appendOnly
            self.executable = executable
            self.extraArguments = extraArguments
        }
    }

    public let port: Int
    public let options: Options
    private let process: Process
    /// Held from before the start until the process has exited: one redis-server per folder.
    private let lock: DataFolderLock

    /// The URL to reach this server.
    public var url: String { "redis://127.0.0.1:\(port)" }

    /// Starts the server and waits (up to 10 s) until it answers `PING`. Refuses a data folder
    /// that another `RedisServerProcess` (in this process or another) uses (see `DataFolderLock`).
    public init(_ options: Options) throws(RedisError) {
        self.options = options
        guard let executable = options.executable ?? RedisServerProcess.findExecutable() else {
            throw RedisError(
                .configuration,
                "redis-server not found: install it (apt-get install -y redis-server), set CAIRN_REDIS_SERVER, or give a Redis URL")
        }
        do {
            try FileManager.default.createDirectory(atPath: options.dataDirectory, withIntermediateDirectories: true)
        } catch {
            throw RedisError(.configuration, "cannot create the Redis data folder \(options.dataDirectory): \(error)")
        }
        let lock = try DataFolderLock(folder: options.dataDirectory)
        var lastError = RedisError(.connection, "redis-server did not start")
        for _ in 0..<5 {
            let port = options.port != 0 ? options.port : RedisServerProcess.freeLoopbackPort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = [
                "--port", String(port), "--bind", "127.0.0.1", "--dir", options.dataDirectory,
                "--daemonize", "no", "--save", "", "--appendonly", options.appendOnly ? "yes" : "no",
                "--logfile", "redis.log", "--protected-mode", "yes",
            ] + options.extraArguments
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            do {
                try process.run()
            } catch {
                throw RedisError(.configuration, "cannot start \(executable): \(error)")
            }
            let configuration = RedisConfiguration(host: "127.0.0.1", port: port, poolSize: 1)
            if let failure = RedisServerProcess.waitUntilReady(configuration, process: process) {
                lastError = failure
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                process.waitUntilExit()
                if options.port != 0 { break }
                continue
            }
            lock.record(redisPID: process.processIdentifier, port: port)
            self.port = port
            self.process = process
            self.lock = lock
            return
        }
        throw lastError
    }

    public var processIdentifier: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Stops the server: `SHUTDOWN` (saving the append-only file unless `save` is false), then
    /// SIGKILL if it is still alive after a few seconds. Safe to call more than once.
    public func stop(save: Bool = true) {
        guard process.isRunning else {
            lock.release()
            return
        }
        // Redis closes the connection instead of answering a SHUTDOWN that worked.
        _ = try? RedisServerProcess.sendWaiting(
            [save ? ["SHUTDOWN"] : ["SHUTDOWN", "NOSAVE"]], RedisConfiguration(host: "127.0.0.1", port: port, poolSize: 1))
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        lock.release()
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    public func kill9() {
        guard process.isRunning else {
            lock.release()
            return
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        lock.release()
    }

    deinit { stop(save: options.appendOnly) }

    static func waitUntilReady(_ configuration: RedisConfiguration, process: Process) -> RedisError? {
        let deadline = Date().addingTimeInterval(10)
        var last = RedisError(.connection, "redis-server did not answer PING within 10 s")
        while Date() < deadline {
            if !process.isRunning {
                return RedisError(.connection, "redis-server exited at start (status \(process.terminationStatus))")
            }
            do {
                // Whoever answers must be the process just started: if its port was taken
                // after all, another test's redis-server may answer there while ours exits.
                let replies = try sendWaiting([["PING"], ["INFO", "server"]], configuration)
                let reply = replies[0]
                let info = replies[1].string ?? ""
                guard reply.string == "PONG" else {
                    last = RedisError(.connection, "redis-server answered PING with \(reply)")
                    usleep(20_000)
                    continue
                }
                if info.contains("process_id:\(process.processIdentifier)\r") { return nil }
                return RedisError(
                    .connection, "another redis-server answers on port \(configuration.port) (the port was taken after it was chosen)")
            } catch {
                last = error
            }
            usleep(20_000)
        }
        return last
    }

    /// The path of `redis-server`: `$CAIRN_REDIS_SERVER`, else the first one on `PATH`.
    public static func findExecutable() -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["CAIRN_REDIS_SERVER"], !explicit.isEmpty { return explicit }
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") + ["/usr/sbin", "/usr/bin"] {
            let candidate = "\(dir)/redis-server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// A TCP port on 127.0.0.1 for a redis-server about to be started on it. A port merely
    /// free a moment ago could be handed to someone else (another `bind` to port 0, another
    /// test's server) before redis-server binds it; so the port is left with a connection of
    /// ours in TIME_WAIT on its side (for the kernel's 60 s): the kernel then hands it to no one
    /// who asks for a free port, while redis-server, which binds with SO_REUSEADDR, may still
    /// bind it by number. If that fails all the same, `init` starts over on another port.
    public static func freeLoopbackPort() -> Int {
        if let reserved = reservedLoopbackPort() { return reserved }
        return 20000 + Int.random(in: 0..<12000)  // below the usual ephemeral range (32768...)
    }

    /// Binds a listener (SO_REUSEADDR) to 127.0.0.1:0, connects to it, accepts, and closes the
    /// accepted side first, so that TIME_WAIT stays on the listener's port. Nil if a step fails.
    static func reservedLoopbackPort() -> Int? {
        func loopback(port: UInt16) -> sockaddr_in {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            return address
        }
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { return nil }
        defer { close(listener) }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = loopback(port: 0)
        var named = length
        guard
            withUnsafePointer(to: &address, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }) == 0,
            listen(listener, 1) == 0,
            withUnsafeMutablePointer(to: &address, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &named) } }) == 0
        else { return nil }
        let port = UInt16(bigEndian: address.sin_port)
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard client >= 0 else { return nil }
        defer { close(client) }
        var target = loopback(port: port)
        guard withUnsafePointer(to: &target, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) } }) == 0 else {
            return nil
        }
        let accepted = accept(listener, nil, nil)  // loopback: the handshake is already done
        guard accepted >= 0 else { return nil }
        close(accepted)  // closes first: TIME_WAIT is on 127.0.0.1:port's side
        return Int(port)
    }
}

extension RedisServerProcess {
    /// Commands on a connection of their own over SwiftNIO, waited for on this thread: starting
    /// and stopping a server are blocking by nature, and run on a thread of their own (NIO's
    /// blocking pool, or a test's), never on an event loop.
    static func sendWaiting(_ commands: [RedisCommand], _ configuration: RedisConfiguration) throws(RedisError) -> [RedisValue] {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        do {
            let connection = try RedisChannelConnection.connect(configuration, on: loop).wait()
            defer { connection.close() }
            let promise = loop.makePromise(of: [RedisValue].self)
            connection.write(commands, promise)
            return try promise.futureResult.wait()
        } catch let error as RedisError {
            throw error
        } catch {
            throw RedisError(.connection, "cannot reach Redis at \(configuration): \(RedisChannelConnection.describe(error))")
        }
    }
}
