@testable import Cairn
import CairnCore
import CairnRedis
import CairnRedisServer
import Foundation
import CairnTestSupport
import Testing

@Suite struct OutageTests {
    @Test func storeRecoversAfterRedisRestarts() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-outage-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var server: RedisServerProcess? = try await RedisServerProcess.started(.init(dataDirectory: directory, appendOnly: true))
        let port = server!.port
        var configuration = try RedisConfiguration(url: server!.url, poolSize: 4)
        // Long enough for a loaded machine to connect after the restart; a stopped Redis refuses at once anyway.
        configuration.connectTimeoutMilliseconds = 5000
        let pool = RedisPool(configuration: configuration)
        let store = Store(redis: pool)
        let ns = try Namespace(tenant: uniqueTenant())
        try await store.put(ns, key: "k", value: 1, by: alice)

        await server!.stopped(save: true)
        server = nil
        let started = Date()
        let down = await expectError(.unavailable) { () throws(CairnError) in try await store.put(ns, key: "k", value: 2, by: alice) }
        #expect(down?.code == 5003)
        #expect(down?.data["retry_after_ms"]?.intValue != nil)
        await expectError(.unavailable) { () throws(CairnError) in try await store.get(ns, key: "k") }
        #expect(Date().timeIntervalSince(started) < 5, "failing must be prompt")

        // The same port: RedisServerProcess left it in TIME_WAIT, so nobody was given it meanwhile.
        server = try await RedisServerProcess.started(.init(dataDirectory: directory, port: port, appendOnly: true))
        // The same store, not rebuilt: the first request after the restart already works.
        #expect(try await store.get(ns, key: "k")?.value == 1)
        #expect(try await store.put(ns, key: "k", value: 3, by: alice).version == 2)
        await pool.shutdown()
        await server!.stopped(save: false)
    }

    @Test func staleConnectionsAreReplacedAfterAKill() async throws {
        try await TestRedis.withPrivateServer { server in
            let pool = RedisPool(configuration: try RedisConfiguration(url: server.url, poolSize: 2))
            let store = Store(redis: pool)
            let ns = try Namespace(tenant: uniqueTenant())
            try await store.put(ns, key: "k", value: 1, by: alice)
            // Kill every client connection from Redis's side: the pool's sockets go stale.
            _ = try await pool.withConnection { connection in
                try await connection.run(["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no"])
            }
            #expect(try await store.get(ns, key: "k")?.value == 1)
            #expect(try await store.put(ns, key: "k", value: 2, by: alice).version == 2)
            await pool.shutdown()
        }
    }
}
