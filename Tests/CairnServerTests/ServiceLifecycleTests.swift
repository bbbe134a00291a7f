import Cairn
import CairnClient
import CairnCore
import CairnRedis
import CairnServer
import CairnTestSupport
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing

/// The long-running parts as services: each starts its work in `run` and has closed what it
/// opened when `run` returns; and waits that a cancelled caller gives up at once.
@Suite struct ServiceLifecycleTests {
    static let logger: Logger = {
        var logger = Logger(label: "service-lifecycle-test")
        logger.logLevel = .critical
        return logger
    }()

    /// Clients connected to `redis` other than `admin` itself.
    static func otherClients(_ admin: RedisChannelConnection) async throws -> Int {
        let list = try await admin.run(["CLIENT", "LIST"]).string ?? ""
        return list.split(separator: "\n").count - 1
    }

    static func group(_ services: [any Service]) -> ServiceGroup {
        ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: logger))
    }

    @Test func aRedisPoolRunAsAServiceClosesItsConnectionsOnGracefulShutdown() async throws {
        try await TestRedis.withPrivateServer { redis in
            let configuration = try RedisConfiguration(url: redis.url)
            let admin = try await RedisChannelConnection.open(configuration)
            defer { admin.close() }
            let pool = RedisPool(configuration: configuration)
            let group = Self.group([pool])
            let running = Task { try await group.run() }
            #expect(try await pool.send(["PING"]).string == "PONG")
            #expect(try await Self.otherClients(admin) >= 1)

            await group.triggerGracefulShutdown()
            try await running.value
            await eventually { (try? await Self.otherClients(admin)) == 0 }
            do {
                _ = try await pool.send(["PING"])
                Issue.record("a pool that stopped must refuse commands")
            } catch {
                #expect((error as? RedisError)?.kind == .connection, "\(error)")
            }
        }
    }

    @Test func aChangeFeedStartsNothingUntilItRunsAndEndsEverythingWhenItStops() async throws {
        try await TestRedis.withPrivateServer { redis in
            let configuration = try RedisConfiguration(url: redis.url)
            let admin = try await RedisChannelConnection.open(configuration)
            defer { admin.close() }
            let pool = RedisPool(configuration: configuration)
            let store = Store(redis: pool)
            let t = uniqueTenant()
            let ns = try Namespace(tenant: t)
            let feed = ChangeFeed(store: store)
            // Made and subscribed to, not run: no pub/sub connection, no pump yet.
            let subscription = try await feed.subscribe(try Scope(tenant: t))
            #expect(try await admin.run(["PUBSUB", "NUMPAT"]).int == 0)
            #expect(!feed.isListening)

            let group = Self.group([pool, feed])
            let running = Task { try await group.run() }
            await eventually { feed.isListening }
            #expect(try await admin.run(["PUBSUB", "NUMPAT"]).int == 1)
            // The tenant's pump, subscribed to before the run, is a child of the run now.
            try await store.put(ns, key: "k", value: 1, by: alice)
            var messages = subscription.makeAsyncIterator()
            guard case .event(let event)? = await messages.next() else {
                Issue.record("the subscription must get the write")
                return
            }
            #expect(event.key.string == "k")

            await group.triggerGracefulShutdown()
            try await running.value
            // Stopped: the subscription ended, new ones are refused, the pub/sub connection is gone.
            #expect(await messages.next() == nil)
            await expectError(.unavailable) { () throws(CairnError) in _ = try await feed.subscribe(try Scope(tenant: t)) }
            #expect(!feed.isListening)
            await eventually { (try? await admin.run(["PUBSUB", "NUMPAT"]).int) == 0 }
            await eventually { (try? await Self.otherClients(admin)) == 0 }
        }
    }

    @Test func aCancelledRedisWaiterReturnsPromptly() async throws {
        try await TestRedis.withPrivateServer { redis in
            var configuration = try RedisConfiguration(url: redis.url, poolSize: 2)
            // Far above the bound below: prompt means cancelled, not timed out.
            configuration.commandTimeoutMilliseconds = 120_000
            let pool = RedisPool(configuration: configuration)
            #expect(try await pool.send(["PING"]).string == "PONG")  // connected before the freeze
            let direct = try await RedisChannelConnection.open(configuration)
            defer { direct.close() }
            try await redis.whileFrozen {
                // A reply awaited on a connection, on the pool's shared one, and inside a lent
                // connection's body (cancelled once the body runs: the wait is for Redis only).
                for wait in ["connection", "send", "withConnection"] {
                    let started = ContinuousClock.now
                    let inBody = SharedCounter()
                    let waiting = Task {
                        switch wait {
                        case "connection": _ = try await direct.send(["GET", "k"])
                        case "send": _ = try await pool.send(["GET", "k"])
                        default:
                            _ = try await pool.withConnection { connection in
                                inBody.increment()
                                return try await connection.send(["GET", "k"])
                            }
                        }
                    }
                    if wait == "withConnection" { await eventually { inBody.value == 1 } }
                    waiting.cancel()
                    let outcome = await waiting.result
                    #expect(ContinuousClock.now - started < .seconds(30), "\(wait): a cancelled waiter must not wait for Redis")
                    guard case .failure(let error) = outcome else {
                        Issue.record("\(wait): a frozen Redis cannot have answered")
                        continue
                    }
                    #expect((error as? RedisError)?.kind == .connection, "\(wait): \(error)")
                }
            }
            // Redis goes on, and so does the pool.
            #expect(try await pool.send(["PING"]).string == "PONG")
            await pool.shutdown()
        }
    }

    @Test func aCancelledWaiterForALentConnectionLeavesTheLine() async throws {
        // One loop, one lent connection: a second caller must wait in line for it.
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let pool = RedisPool(configuration: try RedisConfiguration(url: TestRedis.url, poolSize: 1), group: loops)
        let (gate, open) = AsyncStream<Void>.makeStream()
        let holding = SharedCounter()
        let holder = Task {
            try await pool.withConnection { connection in
                holding.increment()
                for await _ in gate { break }
                return try await connection.send(["PING"]).string
            }
        }
        await eventually { holding.value == 1 }
        let ended = SharedCounter()
        let waiter = Task {
            defer { ended.increment() }
            return try await pool.withConnection { try await $0.send(["PING"]).string }
        }
        waiter.cancel()
        // Without leaving the line it would wait for the holder, which the test only lets go after.
        await eventually(30) { ended.value == 1 }
        open.yield()
        open.finish()
        #expect(try await holder.value == "PONG")
        guard case .failure(let error) = await waiter.result else {
            Issue.record("a cancelled waiter must not get the connection")
            return
        }
        #expect((error as? RedisError)?.kind == .connection, "\(error)")
        // The line is intact: the next caller gets the connection.
        #expect(try await pool.withConnection { try await $0.send(["PING"]).string } == "PONG")
        await pool.shutdown()
        try await loops.shutdownGracefully()
    }

    @Test func aCancelledClientWaiterReturnsPromptly() async throws {
        try await TestRedis.withPrivateServer { redis in
            var configuration = try RedisConfiguration(url: redis.url, poolSize: 4)
            configuration.commandTimeoutMilliseconds = 120_000
            let pool = RedisPool(configuration: configuration)
            let server = try await TestServer(pool: pool)
            let t = uniqueTenant()
            let ns = try Namespace(tenant: t)
            let client = try await server.client(admin: true)
            await eventually { server.server.requestsInFlight == 0 }
            try await redis.whileFrozen {
                let started = ContinuousClock.now
                let waiting = Task { () async throws(CairnError) -> Item? in try await client.get(ns, key: "k") }
                await eventually { server.server.requestsInFlight > 0 }
                waiting.cancel()
                let outcome = await waiting.result
                #expect(ContinuousClock.now - started < .seconds(30), "a cancelled client waiter must not wait for the answer")
                guard case .failure(let error) = outcome else {
                    Issue.record("a frozen Redis cannot have answered")
                    return
                }
                #expect((error as? CairnError)?.reason == .outcomeUnknown, "\(error)")
            }
            // The connection is still usable: the late answer was dropped, the next one matches.
            #expect(try await client.get(ns, key: "k") == nil)
            await client.close()
            await server.stop()
            await pool.shutdown()
        }
    }
}
