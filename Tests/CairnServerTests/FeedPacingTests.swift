import Cairn
import CairnClient
import CairnProtocol
import CairnRedis
import CairnServer
import CairnTestSupport
import Foundation
import Testing

/// Subscribers that keep up: values read in batches, catch-up paced by the reader, and event
/// buffers bounded in bytes server-wide.
@Suite struct FeedPacingTests {
    /// `calls` of one command in `INFO commandstats`.
    static func calls(_ command: String, _ pool: RedisPool) async throws -> Int {
        let info = try await pool.send(["INFO", "commandstats"]).string ?? ""
        guard let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("cmdstat_\(command):") }),
            let field = line.split(separator: ",").first(where: { $0.contains("calls=") })
        else { return 0 }
        return Int(field.split(separator: "=").last ?? "") ?? 0
    }

    /// Writes `count` puts over `keys` keys with `writers` tasks at once: put `i` writes
    /// `{"n": i}` to `k(i % keys)`, so version `v` of `kj` holds `n = (v - 1) * keys + j` when
    /// each key's puts land in order (one task per key keeps them so).
    static func write(_ store: Store, _ ns: Namespace, count: Int, keys: Int, from first: Int = 0) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for j in 0..<keys {
                group.addTask {
                    for i in stride(from: first + j, to: first + count, by: keys) {
                        _ = try await store.put(ns, key: "k\(j)", value: ["n": .int(i)], by: alice)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Every event in stream order, each key's versions 1, 2, 3… without a gap or a repeat.
    static func expectOrderedWithoutGaps(_ events: [JSONValue], keys: Int, perKey: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        let cursors = events.compactMap { $0["cursor"]?.stringValue.flatMap(StreamCursor.init) }
        #expect(cursors.count == events.count, sourceLocation: sourceLocation)
        #expect(zip(cursors, cursors.dropFirst()).allSatisfy { $0 < $1 }, "cursors go up", sourceLocation: sourceLocation)
        var versions: [String: [Int]] = [:]
        for e in events { versions[e["key"]?.stringValue ?? "", default: []].append(e["version"]?.intValue ?? 0) }
        #expect(versions.count == keys, sourceLocation: sourceLocation)
        #expect(versions.values.allSatisfy { $0 == Array(1...perKey) }, sourceLocation: sourceLocation)
    }

    @Test func includeValuesReadsTheValuesOfARunInOneGo() async throws {
        try await TestRedis.withPrivateServer { redis in
            let pool = RedisPool(configuration: try RedisConfiguration(url: redis.url, poolSize: 4))
            let server = try await TestServer(pool: pool)
            let t = uniqueTenant()
            let ns = try Namespace(tenant: t)
            // 80 versions per key: all within the history kept (100), so every value can be read.
            let (count, keys) = (2000, 25)
            try await Self.write(server.store, ns, count: count, keys: keys)
            let hmgetBefore = try await Self.calls("hmget", pool)
            let watcher = try await server.client(admin: true)
            let events = EventCollector(watcher)
            _ = try await watcher.subscribe(try Scope(tenant: t), from: StreamCursor.start.description, includeValues: true)
            let got = try await events.events(count, timeout: 300)  // a hang guard: the writes alone take most of a minute on a loaded machine
            #expect(got.count == count)
            #expect(events.resyncs.isEmpty)
            Self.expectOrderedWithoutGaps(got, keys: keys, perKey: count / keys)
            // Each event shows its item's value at the event's version.
            let wrong = got.filter { e in
                let j = Int((e["key"]?.stringValue ?? "").dropFirst()) ?? -1
                return e["value"]?["n"]?.intValue != ((e["version"]?.intValue ?? 0) - 1) * keys + j
            }
            #expect(wrong.isEmpty, "\(wrong.prefix(3))")
            // One HMGET per item per run, not one per event (that was 2,000 here).
            let hmgets = try await Self.calls("hmget", pool) - hmgetBefore
            #expect(hmgets < count / 4, "\(hmgets) HMGETs for \(count) events")
            await watcher.close()
            await server.stop()
            await pool.shutdown()
        }
    }

    @Test func includeValuesSubscriberKeepsUpWithLiveWrites() async throws {
        let server = try await TestServer { $0.maxBufferedEvents = 1000 }
        let t = uniqueTenant()
        let ns = try Namespace(tenant: t)
        let watcher = try await server.client(admin: true)
        let events = EventCollector(watcher)
        _ = try await watcher.subscribe(try Scope(tenant: t), includeValues: true)
        let (count, keys) = (3000, 8)
        let writes = Task { try await Self.write(server.store, ns, count: count, keys: keys) }
        let got = try await events.events(count, timeout: 300)  // a hang guard: the writes alone take most of a minute on a loaded machine
        try await writes.value
        #expect(got.count == count)
        #expect(events.resyncs.isEmpty)
        Self.expectOrderedWithoutGaps(got, keys: keys, perKey: count / keys)
        let wrong = got.filter { e in
            let j = Int((e["key"]?.stringValue ?? "").dropFirst()) ?? -1
            return e["value"]?["n"]?.intValue != ((e["version"]?.intValue ?? 0) - 1) * keys + j
        }
        #expect(wrong.isEmpty, "\(wrong.prefix(3))")
        await watcher.close()
        await server.stop()
    }

    @Test func resumingOverALargeBacklogIsPacedByTheReader() async throws {
        let server = try await TestServer { $0.maxBufferedEvents = 100 }
        let t = uniqueTenant()
        let ns = try Namespace(tenant: t)
        let (backlog, keys) = (20_000, 16)
        try await Self.write(server.store, ns, count: backlog, keys: keys)
        let watcher = try await server.client(admin: true)
        let events = EventCollector(watcher)
        _ = try await watcher.subscribe(try Scope(tenant: t), from: StreamCursor.start.description)
        // More writes while it catches up: the switch from backlog to live loses and repeats none.
        let live = 1600
        let writes = Task { try await Self.write(server.store, ns, count: live, keys: keys, from: backlog) }
        let got = try await events.events(backlog + live, timeout: 300)  // a hang guard, not a speed bound
        try await writes.value
        #expect(got.count == backlog + live)
        #expect(events.resyncs.isEmpty, "\(events.resyncs)")
        Self.expectOrderedWithoutGaps(got, keys: keys, perKey: (backlog + live) / keys)
        // Live now: the next write is the next event, and nothing else came.
        _ = try await server.store.put(ns, key: "after", value: 1, by: alice)
        #expect(try await events.events(1).first?["key"] == "after")
        #expect(server.server.feed.subscriptionCount == 1)
        await watcher.close()
        await server.stop()
    }

    @Test func serverWideByteLimitDropsTheLargestAndTheMemoryComesBack() async throws {
        let limit = 256 * 1024
        let server = try await TestServer { configuration in
            configuration.maxEventBufferBytes = limit
            configuration.maxPendingOutputBytes = 16 * 1024
        }
        let t = uniqueTenant()
        let ns = try Namespace(tenant: t)
        // Silent subscribers: their sockets fill, then their buffers.
        var silent: [RawLineClient] = []
        for _ in 0..<3 {
            let client = try await RawLineClient(port: server.port, reading: false)
            try await client.send(#"{"id":1,"method":"auth","params":{"token":"\#(server.adminToken)"}}"# + "\n")
            try await client.send(#"{"id":2,"method":"subscribe","params":{"scope":{"tenant":"\#(t)"},"include_values":true}}"# + "\n")
            silent.append(client)
        }
        let healthy = try await server.client(admin: true)
        let events = EventCollector(healthy)
        _ = try await healthy.subscribe(try Scope(tenant: t))
        await eventually { server.server.feed.subscriptionCount == 4 }
        let big = String(repeating: "x", count: 2000)
        let count = 4000
        for i in 0..<count { _ = try await server.store.put(ns, key: "k\(i % 20)", value: .string(big), by: alice) }
        let got = try await events.events(count, timeout: 300)  // a hang guard: the writes alone take most of a minute on a loaded machine
        #expect(got.count == count)
        #expect(events.resyncs.isEmpty)
        // Well under 10,000 events each (the per-subscription event limit), the shared bytes ran out.
        let metrics = String(decoding: server.server.metrics.exposition(), as: UTF8.self)
        let dropped = metrics.split(separator: "\n").first { $0.hasPrefix("cairn_subscriptions_dropped_total ") }
        #expect((dropped?.split(separator: " ").last.flatMap { Int($0) } ?? 0) >= 1, "\(dropped ?? "no metric")")
        #expect(server.server.feed.bufferedBytes <= limit)
        #expect(server.server.feed.subscriptionCount < 4)
        // A dropped one hears why, once it reads.
        try await silent[0].startReading()
        var reasons: [String] = []
        for client in silent.dropFirst() { try await client.startReading() }
        for client in silent {
            while let line = try await client.readJSON(timeout: 5) {
                if line["method"] == "resync" {
                    reasons.append(line["params"]?["reason"]?.stringValue ?? "")
                    break
                }
            }
        }
        #expect(!reasons.isEmpty && reasons.allSatisfy { $0 == "too_slow" }, "\(reasons)")
        // Once they are gone (dropped or read up and closed), nothing stays accounted.
        for client in silent { await client.close() }
        await eventually { server.server.feed.subscriptionCount == 1 && server.server.feed.bufferedBytes == 0 }
        let after = String(decoding: server.server.metrics.exposition(), as: UTF8.self)
        #expect(after.contains("cairn_event_buffer_bytes 0"))
        await healthy.close()
        await server.stop()
    }
}
