import Cairn
import CairnRedis
import CairnRedisServer
import CairnServer
import CairnTestSupport
import Foundation
import Testing

/// `/health/live` and `/health/ready` of the metrics server, against a private Redis that is
/// up, paused or stopped.
@Suite struct HealthTests {
    /// One HTTP/1.1 exchange: the status code and the body's lines.
    struct Answer {
        var status: Int
        var body: [String]
    }

    static func get(_ path: String, port: Int) async throws -> Answer {
        let client = try await RawLineClient(port: port)
        defer { Task { await client.close() } }
        try await client.send("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        var lines: [String] = []
        while let line = try await client.readLine(timeout: 10) {
            lines.append(line.hasSuffix("\r") ? String(line.dropLast()) : line)
        }
        let statusLine = try #require(lines.first, "no answer to GET \(path)")
        let status = try #require(Int(statusLine.split(separator: " ").dropFirst().first ?? ""), "status line \(statusLine)")
        let blank = lines.firstIndex(of: "") ?? lines.endIndex
        return Answer(status: status, body: Array(lines[min(blank + 1, lines.endIndex)...]))
    }

    /// A cairnd (protocol server and metrics server) on `redis`, as `cairnd` wires them.
    static func withServers(
        redis: RedisServerProcess, pingTimeoutMilliseconds: Int = 2000, _ body: (TestServer, MetricsServer) async throws -> Void
    ) async throws {
        var configuration = try RedisConfiguration(url: redis.url, poolSize: 2)
        configuration.connectTimeoutMilliseconds = 500
        let pool = RedisPool(configuration: configuration)
        let server = try await TestServer(pool: pool)
        let cairn = server.server
        let metrics = try await MetricsServer.bind(
            host: "127.0.0.1", port: 0, metrics: cairn.metrics,
            readiness: { await cairn.readiness(timeoutMilliseconds: pingTimeoutMilliseconds) })
        do {
            try await body(server, metrics)
        } catch {
            metrics.close()
            await server.stop()
            await pool.shutdown()
            throw error
        }
        metrics.close()
        await server.stop()
        await pool.shutdown()
    }

    @Test func readyAndLiveWhileRedisAnswers() async throws {
        try await TestRedis.withPrivateServer { redis in
            try await Self.withServers(redis: redis) { server, metrics in
                // The feed's pub/sub connection comes up shortly after the start.
                await eventually { server.server.feed.isListening }
                let ready = try await Self.get("/health/ready", port: metrics.port)
                #expect(ready.status == 200, "\(ready.body)")
                #expect(ready.body == ["ready"])
                #expect(try await Self.get("/health/live", port: metrics.port).status == 200)
                #expect(try await Self.get("/health", port: metrics.port).status == 200)
                #expect(try await Self.get("/metrics", port: metrics.port).status == 200)
                #expect(try await Self.get("/nope", port: metrics.port).status == 404)
            }
        }
    }

    @Test func notReadyWithTheReasonWhileRedisIsStoppedButStillLive() async throws {
        try await TestRedis.withPrivateServer { redis in
            try await Self.withServers(redis: redis) { server, metrics in
                await eventually { server.server.feed.isListening }
                #expect(try await Self.get("/health/ready", port: metrics.port).status == 200)
                redis.stop(save: false)

                let ready = try await Self.get("/health/ready", port: metrics.port)
                #expect(ready.status == 503, "\(ready.body)")
                #expect(ready.body.first == "not ready:")
                #expect(ready.body.contains { $0.hasPrefix("- redis at 127.0.0.1:\(redis.port): ") }, "\(ready.body)")
                // `/health` is readiness too: no 200 while Redis is down.
                #expect(try await Self.get("/health", port: metrics.port).status == 503)
                // The feed notices its pub/sub connection broke, and readiness says so.
                await eventually { !server.server.feed.isListening }
                let later = try await Self.get("/health/ready", port: metrics.port)
                #expect(later.body.contains { $0.contains("change feed is not listening") }, "\(later.body)")
                // The process itself is fine.
                let live = try await Self.get("/health/live", port: metrics.port)
                #expect(live.status == 200)
                #expect(live.body == ["live"])
            }
        }
    }

    @Test func notReadyWithinTheBoundWhileRedisIsPaused() async throws {
        try await TestRedis.withPrivateServer { redis in
            try await Self.withServers(redis: redis, pingTimeoutMilliseconds: 300) { server, metrics in
                await eventually { server.server.feed.isListening }
                // Paused, Redis takes every command and answers none until the pause ends (even
                // CLIENT UNPAUSE waits), so the test kills it once it has its answer.
                let admin = try await RedisChannelConnection.open(RedisConfiguration(host: "127.0.0.1", port: redis.port, poolSize: 1))
                defer { admin.close() }
                _ = try await admin.send(["CLIENT", "PAUSE", "30000", "ALL"])
                defer { redis.kill9() }

                let started = ContinuousClock.now
                let ready = try await Self.get("/health/ready", port: metrics.port)
                #expect(ready.status == 503, "\(ready.body)")
                #expect(ready.body.contains { $0.contains("no answer to PING within 300 ms") }, "\(ready.body)")
                #expect(ContinuousClock.now - started < .seconds(20), "readiness must answer within its bound, not when Redis does")
            }
        }
    }
}
