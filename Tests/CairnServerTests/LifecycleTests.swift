import Cairn
import CairnClient
import CairnRedis
import CairnRedisServer
import CairnServer
import CairnTestSupport
import Foundation
import Testing

@Suite struct LifecycleTests {
    @Test func redisOutageGivesPromptUnavailableAndTheSameConnectionsRecover() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-srv-outage-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var redis: RedisServerProcess? = try await RedisServerProcess.started(.init(dataDirectory: directory, appendOnly: true))
        let port = redis!.port
        var configuration = try RedisConfiguration(url: redis!.url, poolSize: 4)
        // Long enough for a loaded machine to connect after the restart; a stopped Redis refuses at once anyway.
        configuration.connectTimeoutMilliseconds = 5000
        // Far above the bound below: prompt means refused at once, not timed out.
        configuration.commandTimeoutMilliseconds = 120_000
        let pool = RedisPool(configuration: configuration)
        let server = try await TestServer(pool: pool)
        let t = uniqueTenant()
        let ns = try Namespace(tenant: t)
        let token = try await server.token(tenant: t, grants: ["read", "write"])
        // No client-side retries: this is about how promptly the server answers.
        let once = RetryPolicy(maxAttempts: 1)
        let client = try await CairnClient.connect(port: server.port, token: token, retryPolicy: once)
        let admin = try await CairnClient.connect(port: server.port, token: server.adminToken, retryPolicy: once)
        try await client.put(ns, key: "k", value: 1)

        await redis!.stopped(save: true)
        redis = nil
        for c in [client, admin] {
            let started = ContinuousClock.now
            let error = await expectError(.unavailable) { () throws(CairnError) in try await c.put(ns, key: "k", value: 2) }
            #expect(error?.code == 5003)
            #expect(error?.data["retry_after_ms"] != nil)
            await expectError(.unavailable) { () throws(CairnError) in try await c.get(ns, key: "k") }
            #expect(ContinuousClock.now - started < .seconds(60), "answers must come promptly, not wait for a command timeout")
        }
        #expect(try await client.ping())  // the connection itself is fine

        // The same port: RedisServerProcess left it in TIME_WAIT, so nobody was given it meanwhile.
        redis = try await RedisServerProcess.started(.init(dataDirectory: directory, port: port, appendOnly: true))
        // The same connections work again.
        #expect(try await client.get(ns, key: "k")?.value == 1)
        #expect(try await client.put(ns, key: "k", value: 3).version == 2)
        #expect(try await admin.get(ns, key: "k")?.value == 3)
        await client.close()
        await admin.close()
        await server.stop()
        await pool.shutdown()
        await redis!.stopped(save: false)
    }

    @Test func requestInFlightAtShutdownIsAnswered() async throws {
        // A private Redis: the test holds it still, which must not stall anyone else's tests.
        try await TestRedis.withPrivateServer { redis in
            let pool = RedisPool(configuration: try RedisConfiguration(url: redis.url, poolSize: 4))
            let server = try await TestServer(pool: pool)
            let t = uniqueTenant()
            let ns = try Namespace(tenant: t)
            let client = try await server.client(admin: true)
            let idle = try await server.client(admin: true)
            // The clients' `auth` requests count as in flight until just after their answers are
            // written: wait until they are done, so that the count below can only be the put.
            await eventually { server.server.requestsInFlight == 0 }
            let inFlight = try await redis.whileFrozen {
                // Redis holds every command until it thaws: the put is surely in flight.
                let inFlight = Task { try await client.put(ns, key: "paused", value: "answered too") }
                await eventually { server.server.requestsInFlight > 0 }
                server.server.beginGracefulShutdown()
                return inFlight
            }
            // The request in flight gets its answer…
            #expect(try await inFlight.value.version == 1)
            // …and then the connections close; new ones are refused.
            await expectError(.connectionFailed) { () throws(CairnError) in try await idle.ping() }
            await expectError(.connectionFailed) { () throws(CairnError) in _ = try await CairnClient.connect(port: server.port) }
            await server.stop()
            #expect(try await server.store.get(ns, key: "paused")?.value == "answered too")
            await pool.shutdown()
        }
    }
}
