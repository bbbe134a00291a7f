import CairnTestSupport
import Synchronization
import Testing

@testable import CairnRedis

/// Pub/sub over SwiftNIO: pushes, and subscribing again after the connection is killed.
@Suite struct RedisSubscriberTests {
    /// What a subscription's stream delivered so far, read by the test while a task consumes.
    final class Seen: Sendable {
        let pushes = Mutex<[RedisPush]>([])
        var all: [RedisPush] { pushes.withLock { $0 } }
        var messages: [RedisPush] { all.filter { if case .message = $0 { true } else { false } } }
        var subscribedCount: Int { all.filter { if case .subscribed = $0 { true } else { false } }.count }
        var disconnectedCount: Int { all.filter { if case .disconnected = $0 { true } else { false } }.count }
    }

    @Test func readsRESP2PushesAndNothingElse() {
        #expect(RedisPush(pushed: .array([.string("message"), .string("c"), .string("m")])) == .message(channel: "c", message: "m"))
        #expect(
            RedisPush(pushed: .array([.string("pmessage"), .string("c*"), .string("c1"), .string("m")]))
                == .message(channel: "c1", message: "m"))
        #expect(RedisPush(pushed: .array([.string("psubscribe"), .string("c*"), .integer(1)])) == nil)
        #expect(RedisPush(pushed: .array([.string("pmessage"), .string("c*"), .string("c1")])) == nil)
        #expect(RedisPush(pushed: .string("message")) == nil)
    }

    @Test func deliversMessagesAndResubscribesAfterItsConnectionIsKilled() async throws {
        try await TestRedis.withPrivateServer { server in
            let configuration = try RedisConfiguration(url: server.url, poolSize: 1)
            let pool = RedisPool(configuration: configuration)
            let seen = Seen()
            let pushes = RedisSubscriber.pushes(configuration, patterns: ["news:*"])
            let consumer = Task { for await push in pushes { seen.pushes.withLock { $0.append(push) } } }
            await eventually { seen.subscribedCount == 1 }
            _ = try await pool.withConnection { try await $0.run(["PUBLISH", "news:a", "one"]) }
            _ = try await pool.withConnection { try await $0.run(["PUBLISH", "other", "ignored"]) }
            await eventually { seen.messages.count == 1 }
            #expect(seen.messages == [.message(channel: "news:a", message: "one")])

            _ = try await pool.withConnection { try await $0.run(["CLIENT", "KILL", "TYPE", "pubsub"]) }
            await eventually { seen.subscribedCount == 2 }
            #expect(seen.disconnectedCount == 1, "\(seen.all)")
            _ = try await pool.withConnection { try await $0.run(["PUBLISH", "news:b", "two"]) }
            await eventually { seen.messages.count == 2 }
            #expect(seen.messages.last == .message(channel: "news:b", message: "two"))

            consumer.cancel()
            _ = await consumer.value
            // The subscription's connection is gone once its consumer stopped.
            await eventually {
                let list = (try? await pool.withConnection { try await $0.run(["CLIENT", "LIST", "TYPE", "pubsub"]) })?.string
                return list?.isEmpty == true
            }
            await pool.shutdown()
        }
    }

    @Test func aConsumerTooSlowForItsBufferLosesTheConnectionAndIsToldSo() async throws {
        try await TestRedis.withPrivateServer { server in
            let configuration = try RedisConfiguration(url: server.url, poolSize: 1)
            let pool = RedisPool(configuration: configuration)
            var pushes = RedisSubscriber.pushes(configuration, patterns: ["flood"], bufferLimit: 4).makeAsyncIterator()
            guard case .subscribed? = await pushes.next() else { Issue.record("first push is not .subscribed"); return }
            func pubsubClients() async -> [String]? {
                guard let list = (try? await pool.withConnection { try await $0.run(["CLIENT", "LIST", "TYPE", "pubsub"]) })?.string
                else { return nil }
                return list.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }  // "id=N"
            }
            let subscriber = try #require(await pubsubClients()?.first)
            // Nobody reads while 20 messages come: the fifth finds the buffer full and the
            // subscriber's connection closes. Reading starts only once that connection is gone,
            // so the reader cannot make room early.
            _ = try await pool.withConnection { c in try await c.pipeline((0..<20).map { ["PUBLISH", "flood", String($0)] }) }
            await eventually { await pubsubClients().map { !$0.contains(subscriber) } ?? false }
            var messages = 0
            var sawDisconnect = false
            while let push = await pushes.next() {
                if case .message = push { messages += 1 }
                if case .disconnected = push { sawDisconnect = true }
                if case .subscribed = push { break }
            }
            #expect(sawDisconnect)
            #expect(messages <= 4)
            await pool.shutdown()
        }
    }
}
