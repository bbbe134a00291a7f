import Cairn
import CairnRedis
import CairnRedisServer
import Foundation
import NIOPosix
import Testing

/// The real Redis the tests use: `CAIRN_TEST_REDIS_URL` (set by `scripts/test`), or else a
/// private `redis-server` this process starts on a free loopback port and stops at exit.
public enum TestRedis {
    public static let url: String = {
        if let url = ProcessInfo.processInfo.environment["CAIRN_TEST_REDIS_URL"], !url.isEmpty { return url }
        if let shared = SharedTLSRedis.shared { return shared.server.process.url }  // CAIRN_TEST_REDIS_TLS=1
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-test-redis-\(getpid())").path
        do {
            let server = try RedisServerProcess(.init(dataDirectory: directory, appendOnly: false))
            privateServer = server
            atexit { TestRedis.privateServer?.stop(save: false) }
            return server.url
        } catch {
            fatalError("tests need a redis-server: \(error). Run scripts/test, or install redis-server.")
        }
    }()

    nonisolated(unsafe) static var privateServer: RedisServerProcess?

    public static let pool: RedisPool = {
        var configuration = try! SharedTLSRedis.shared.map(SharedTLSRedis.poolConfiguration) ?? RedisConfiguration(url: url, poolSize: 8)
        configuration.commandTimeoutMilliseconds = 10_000
        return RedisPool(configuration: configuration)
    }()

    /// A store on the shared Redis. Tests keep apart by using a tenant of their own.
    public static func store(_ options: StoreOptions = StoreOptions()) -> Store {
        Store(redis: pool, options: options)
    }
}

extension TestRedis {
    /// Runs `body` with a private `redis-server` on a free loopback port, for a test that must
    /// not disturb the shared one (pauses it, kills its clients); the server is stopped and its
    /// data folder deleted afterwards.
    public static func withPrivateServer<T>(_ body: (RedisServerProcess) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-private-redis-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await RedisServerProcess.started(.init(dataDirectory: directory, appendOnly: false))
        do {
            let result = try await body(server)
            await server.stopped(save: false)
            return result
        } catch {
            await server.stopped(save: false)
            throw error
        }
    }
}

extension RedisServerProcess {
    /// Starts a redis-server as `init` does, on a thread of NIO's blocking pool: starting one
    /// waits for its PING in blocking calls, which would hold one of the few threads of Swift's
    /// cooperative pool that every other test running meanwhile needs.
    public static func started(_ options: Options) async throws(RedisError) -> RedisServerProcess {
        do {
            return try await NIOThreadPool.singleton.runIfActive { try RedisServerProcess(options) }
        } catch let error as RedisError {
            throw error
        } catch {
            throw RedisError(.configuration, "cannot start redis-server: \(error)")
        }
    }

    /// `stop(save:)` (which waits for the process to exit), on a thread of NIO's blocking pool.
    public func stopped(save: Bool = true) async {
        _ = try? await NIOThreadPool.singleton.runIfActive { self.stop(save: save) }
    }
}

/// A tenant name no other test uses.
public func uniqueTenant(_ label: String = "t") -> String {
    "\(label)-\(UUID().uuidString.prefix(12))"
}

public let alice = Attribution(principal: "alice")

/// Runs `body` and checks it fails with `reason`; returns the error for more checks.
@discardableResult
public func expectError<T>(
    _ reason: CairnError.Reason, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws(CairnError) -> T
) async -> CairnError? {
    do {
        let value = try await body()
        Issue.record("expected \(reason.rawValue), got \(value)", sourceLocation: sourceLocation)
        return nil
    } catch {
        #expect(error.reason == reason, "\(error)", sourceLocation: sourceLocation)
        return error
    }
}

/// Polls `condition` until it holds or `seconds` pass.
public func eventually(
    _ seconds: Double = 10, sourceLocation: SourceLocation = #_sourceLocation, _ condition: () async -> Bool
) async {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if await condition() { return }
        try? await Task.sleep(nanoseconds: 20_000_000)
    }
    Issue.record("condition did not hold within \(seconds) s", sourceLocation: sourceLocation)
}
