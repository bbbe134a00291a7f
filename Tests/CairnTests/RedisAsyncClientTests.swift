import CairnRedis
import CairnTestSupport
import Foundation
import NIOCore
import NIOPosix
import Testing

/// An actor running on one event loop, as cairnd's connections do.
private actor OnLoop {
    nonisolated let unownedExecutor: UnownedSerialExecutor
    init(_ loop: any EventLoop) { unownedExecutor = loop.executor.asUnownedSerialExecutor() }

    func run<T: Sendable>(_ body: () async throws -> T) async rethrows -> T { try await body() }
}

/// Redis over SwiftNIO (`RedisAsyncClient`), against a real redis-server.
@Suite struct RedisAsyncClientTests {
    static func client(poolSize: Int = 8, timeoutMs: Int = 10_000, url: String = TestRedis.url) throws -> RedisAsyncClient {
        var configuration = try RedisConfiguration(url: url, poolSize: poolSize)
        configuration.commandTimeoutMilliseconds = timeoutMs
        return RedisAsyncClient(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton, exclusivePerLoop: poolSize)
    }

    @Test func concurrentReadsEachGetTheirOwnReply() async throws {
        let client = try Self.client()
        let prefix = uniqueTenant("async")
        for i in 0..<100 { _ = try await TestRedis.pool.withConnection { try await $0.run(["SET", "\(prefix):\(i)", "v\(i)"]) } }
        // Callers on an event loop (the shared connection's fast path) and callers elsewhere.
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let onLoop = OnLoop(loop)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<1000 {
                group.addTask {
                    let key = "\(prefix):\(i % 100)"
                    let reply = i % 2 == 0
                        ? try await onLoop.run { try await client.send(["GET", key]) }
                        : try await client.send(["GET", key])
                    #expect(reply == .string("v\(i % 100)"))
                }
            }
            try await group.waitForAll()
        }
        #expect(try await client.send(["GET", "\(prefix):absent"]) == .null)
        #expect(try await client.send(["NOSUCHCOMMAND"]).errorMessage != nil, "an error reply is returned, not thrown")
        await client.shutdown()
    }

    @Test func lentConnectionsKeepTransactionsApart() async throws {
        // Two connections per loop for 16 writers: most wait their turn. If two writers ever
        // shared a connection, one's WATCH would cover the other's write and updates would be lost.
        let client = try Self.client(poolSize: 2)
        let key = "\(uniqueTenant("async")):counter"
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let onLoop = OnLoop(loop)
        let writers = 16, increments = 40
        try await withThrowingTaskGroup(of: Int.self) { group in
            for w in 0..<writers {
                group.addTask {
                    var aborted = 0
                    for _ in 0..<increments {
                        while true {
                            let body: (RedisChannelConnection) async throws -> Bool = { connection in
                                let current = try await connection.pipeline([["WATCH", key], ["GET", key]])[1].int ?? 0
                                return try await connection.transaction([["SET", key, String(current + 1)]]) != .aborted
                            }
                            let committed = w % 2 == 0
                                ? try await onLoop.run { try await client.withConnection(body) }
                                : try await client.withConnection(body)
                            if committed { break }
                            aborted += 1
                        }
                    }
                    return aborted
                }
            }
            try await group.waitForAll()
        }
        #expect(try await client.send(["GET", key]) == .string(String(writers * increments)))
        await client.shutdown()
    }

    @Test func anEmptyPipelineAnswersAtOnceAndTheConnectionStaysInStep() async throws {
        // A short command timeout: waiting for replies to no command would run into it.
        let client = try Self.client(poolSize: 1, timeoutMs: 2_000)
        let key = uniqueTenant("empty")
        let replies = try await client.withConnection { connection in
            let none = try await connection.pipeline([])
            let set = try await connection.pipeline([["SET", key, "v"], ["GET", key]])
            let noneAgain = try await connection.pipeline([])
            return (none, set, noneAgain)
        }
        #expect(replies.0.isEmpty && replies.2.isEmpty)
        #expect(replies.1 == [.status("OK"), .string("v")])
        await client.shutdown()
    }

    @Test func aBodyThatFailsGivesTheConnectionBackUsable() async throws {
        let client = try Self.client(poolSize: 1)
        struct Refused: Error {}
        for _ in 0..<5 {
            await #expect(throws: Refused.self) {
                try await client.withConnection { connection in
                    _ = try await connection.send(["PING"])
                    throw Refused()
                }
            }
        }
        // With one connection per loop, a leaked one would make this wait forever.
        #expect(try await client.withConnection { try await $0.send(["PING"]) } == .status("PONG"))
        await client.shutdown()
        await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
    }

    @Test func unreachableRedisFailsPromptly() async throws {
        // A port held bound but not listening: refused for certain, and no other server can take it.
        try await withRefusingPort { port in
            var configuration = try RedisConfiguration(url: "redis://127.0.0.1:\(port)")
            configuration.connectTimeoutMilliseconds = 500
            // Far above the bound below: failing promptly means not waiting for a command timeout
            // (nor retrying until one). The bound leaves a busy machine seconds to spare.
            configuration.commandTimeoutMilliseconds = 120_000
            let client = RedisAsyncClient(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton, exclusivePerLoop: 1)
            let started = ContinuousClock.now
            do throws(RedisError) {
                _ = try await client.send(["PING"])
                Issue.record("PING to a closed port answered")
            } catch {
                #expect(error.kind == .connection)
                #expect(error.message.contains("cannot reach Redis"), "\(error)")
            }
            await #expect(throws: RedisError.self) { try await client.withConnection { try await $0.send(["PING"]) } }
            #expect(ContinuousClock.now - started < .seconds(60))
            await client.shutdown()
        }
    }

    @Test func aRefusedSetUpIsAConnectionError() async throws {
        // The test Redis has no password: AUTH is refused, and so is the connection.
        let client = try Self.client(url: TestRedis.url.replacingOccurrences(of: "redis://", with: "redis://:wrong@"))
        do {
            _ = try await client.send(["PING"])
            Issue.record("a refused AUTH still gave a connection")
        } catch {
            #expect(error.kind == .connection)
            #expect(error.message.contains("refused the connection set-up"), "\(error)")
        }
        await client.shutdown()
    }

    @Test func aRedisThatStopsAnsweringTimesOutAndTheNextCommandWorks() async throws {
        try await TestRedis.withPrivateServer { server in
            let client = try Self.client(timeoutMs: 300, url: server.url)
            // Connected first. On a busy machine even a live Redis may miss a 300 ms bound once;
            // what this test checks is the frozen one below.
            await eventually(10) { (try? await client.send(["PING"])) == .status("PONG") }
            // Frozen, Redis answers nothing until the test lets it go: only the timeout can end the wait.
            try await server.whileFrozen {
                do throws(RedisError) {
                    _ = try await client.send(["PING"])
                    Issue.record("PING answered while Redis was frozen")
                } catch {
                    #expect(error.message.contains("did not answer within 300 ms"), "\(error)")
                }
            }
            // Once Redis answers again, a new connection serves the next command.
            await eventually(10) { (try? await client.send(["PING"])) == .status("PONG") }
            await client.shutdown()
        }
    }

    @Test func aReadWhoseSharedConnectionBreaksIsSentOnceMore() async throws {
        try await TestRedis.withPrivateServer { server in
            let client = try Self.client(url: server.url)
            let admin = RedisPool(configuration: try RedisConfiguration(url: server.url, poolSize: 1))
            /// The id of the connection blocked in `BLPOP`, if one is.
            @Sendable func blockedReader() async -> String? {
                let list = (try? await admin.withConnection { try await $0.run(["CLIENT", "LIST"]) })?.string ?? ""
                let line = list.split(separator: "\n").first { $0.contains(" cmd=blpop") }
                return line?.split(separator: " ").first { $0.hasPrefix("id=") }.map(String.init)
            }
            // `BLPOP` stands in for a read still unanswered when its shared connection is killed.
            async let popped = client.send(["BLPOP", "queue", "10"])
            await eventually { await blockedReader() != nil }
            let first = await blockedReader()
            _ = try await admin.withConnection { try await $0.run(["CLIENT", "KILL", "TYPE", "normal"]) }  // not the admin's own
            // The read goes out once more, on a new connection, and is answered there.
            await eventually { let now = await blockedReader(); return now != nil && now != first }
            _ = try await admin.withConnection { try await $0.run(["LPUSH", "queue", "v"]) }
            #expect(try await popped == .array([.string("queue"), .string("v")]))
            await client.shutdown()
            await admin.shutdown()
        }
    }
}
