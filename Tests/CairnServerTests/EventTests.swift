import Cairn
import CairnClient
import CairnProtocol
import CairnRedis
import CairnServer
import CairnTestSupport
import Foundation
import Testing

/// Collects a client's event notifications (flattening `events` batches).
final class EventCollector: @unchecked Sendable {
    private var iterator: AsyncStream<JSONValue>.AsyncIterator
    private(set) var resyncs: [JSONValue] = []
    private(set) var batches = 0

    init(_ client: CairnClient) { iterator = client.notifications.makeAsyncIterator() }

    /// Reads until `count` events arrived (or the deadline passes); returns them.
    func events(_ count: Int, timeout seconds: Double = 20, stopAtResync: Bool = false) async throws -> [JSONValue] {
        var out: [JSONValue] = []
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        let resyncsBefore = resyncs.count
        while out.count < count {
            if stopAtResync && resyncs.count > resyncsBefore { break }
            guard ContinuousClock.now < deadline else { break }
            let next = try await withThrowingTaskGroup(of: JSONValue?.self) { group in
                group.addTask { [self] in await self.nextNotification() }
                group.addTask {
                    try await Task.sleep(until: deadline)
                    return nil
                }
                let first = try await group.next()!
                group.cancelAll()
                return first
            }
            guard let message = next else { break }
            switch message["method"]?.stringValue {
            case "event": out.append(message["params"] ?? .null)
            case "events":
                batches += 1
                out += message["params"]?["events"]?.arrayValue ?? []
            case "resync": resyncs.append(message["params"] ?? .null)
            default: break
            }
        }
        return out
    }

    func nextNotification() async -> JSONValue? { await iterator.next() }

    /// Reads notifications until a `resync` arrives (events are collected as usual).
    func resync(timeout seconds: Double = 10) async throws -> JSONValue? {
        let before = resyncs.count
        _ = try await events(Int.max, timeout: seconds, stopAtResync: true)
        return resyncs.count > before ? resyncs.last : nil
    }
}

func key(_ event: JSONValue) -> String {
    "\(event["ns"]?.description ?? "")|\(event["key"]?.stringValue ?? "")|\(event["version"]?.intValue ?? 0)"
}

@Suite struct EventTests {
    @Test func subscriberSeesEveryWriteInScopeOnceInOrder() async throws {
        let server = try await TestServer()
        let t = uniqueTenant()
        let writer = try await server.client(token: try await server.token(tenant: t, principal: "writer", grants: ["read", "write"]))
        let watcher = try await server.client(token: try await server.token(tenant: t, principal: "watcher", grants: ["read"]))
        let events = EventCollector(watcher)
        let sub = try await watcher.subscribe(try Scope(tenant: t, task: .equals("t1"), role: .absent))
        #expect(sub.subscription == "s1")
        let inScope = try Namespace(tenant: t, task: "t1")
        try await writer.put(inScope, key: "a", value: 1, reason: "first", agent: "agent-1")
        try await writer.put(try Namespace(tenant: t, task: "t2"), key: "a", value: 1)  // other task
        try await writer.put(try Namespace(tenant: t, task: "t1", role: "r"), key: "a", value: 1)  // other role
        try await writer.put(try Namespace(tenant: t), key: "a", value: 1)  // no task
        let other = try await server.client(admin: true)
        try await other.put(try Namespace(tenant: t + "-other", task: "t1"), key: "a", value: 1)  // other tenant
        try await writer.put(inScope, key: "a", value: 2, ifVersion: 1)
        try await writer.createBlock(inScope, label: "notes", value: "x")
        try await writer.insert(inScope, label: "notes", text: "y", reason: "add y", agent: "agent-2")
        try await writer.delete(inScope, key: "a", reason: "cleanup")
        let got = try await events.events(5)
        #expect(got.count == 5)
        #expect(got.map { $0["key"]?.stringValue ?? "" } == ["a", "a", "notes", "notes", "a"])
        #expect(got.map { $0["op"]?.stringValue ?? "" } == ["put", "put", "create", "insert", "delete"])
        #expect(got.map { $0["type"]?.stringValue ?? "" } == ["write", "write", "write", "write", "delete"])
        #expect(got.map { $0["version"]?.intValue ?? 0 } == [1, 2, 1, 2, 3])
        #expect(got.map { $0["kind"]?.stringValue ?? "" } == ["item", "item", "block", "block", "item"])
        #expect(got.allSatisfy { $0["by"] == "writer" && $0["subscription"] == "s1" && $0["ns"] == Wire.namespace(inScope) })
        #expect(got.map { $0["agent"]?.stringValue } == ["agent-1", nil, nil, "agent-2", nil])
        #expect(got.map { $0["reason"]?.stringValue } == ["first", nil, nil, "add y", "cleanup"])
        #expect(got.allSatisfy { $0["value"] == nil })
        // Commit order = the audit log's order; cursors grow.
        let log = try await writer.log(try Scope(tenant: t, task: .equals("t1"), role: .absent))
        #expect(got.compactMap { $0["cursor"]?.stringValue } == log.map(\.cursor))
        // Nothing else arrives: a write after them is the very next event.
        try await writer.put(inScope, key: "z", value: 0)
        #expect(try await events.events(1).first?["key"] == "z")
        for c in [writer, watcher, other] { await c.close() }
        await server.stop()
    }

    @Test func valuesAndCoalescing() async throws {
        let server = try await TestServer()
        let t = uniqueTenant()
        let ns = try Namespace(tenant: t)
        let writer = try await server.client(admin: true)
        let watcher = try await server.client(admin: true)
        let events = EventCollector(watcher)
        _ = try await watcher.subscribe(try Scope(tenant: t), includeValues: true, coalesceMilliseconds: 100)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<50 { group.addTask { try await writer.put(ns, key: "k\(i)", value: ["n": .int(i)]) } }
            try await group.waitForAll()
        }
        try await writer.delete(ns, key: "k0")
        let got = try await events.events(51)
        #expect(got.count == 51)
        #expect(Set(got.map(key)).count == 51)
        #expect(events.batches < 51)  // batched, not one notification per event
        #expect(got.filter { $0["op"] == "put" }.allSatisfy { $0["value"]?["n"]?.intValue == Int(($0["key"]?.stringValue ?? "k-1").dropFirst()) })
        #expect(got.last?["type"] == "delete" && got.last?["value"] == .null)
        await writer.close()
        await watcher.close()
        await server.stop()
    }

    @Test func manyWritersThreeScopesNothingMissingNothingTwice() async throws {
        let server = try await TestServer(storeOptions: StoreOptions(streamLength: 1_000_000))
        let t = uniqueTenant()
        let scopes = [try Scope(tenant: t), try Scope(tenant: t, task: .equals("even")), try Scope(tenant: t, role: .equals("r1"))]
        var watchers: [(CairnClient, EventCollector)] = []
        for scope in scopes {
            let c = try await server.client(admin: true)
            let collector = EventCollector(c)
            _ = try await c.subscribe(scope)
            watchers.append((c, collector))
        }
        var writers: [CairnClient] = []
        for _ in 0..<8 { writers.append(try await server.client(admin: true)) }
        let perWriter = 500
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (w, client) in writers.enumerated() {
                group.addTask {
                    for i in 0..<perWriter {
                        let ns = try Namespace(tenant: t, task: w % 2 == 0 ? "even" : "odd", role: "r\(i % 3)")
                        try await client.put(ns, key: "k\(i % 10)", value: .int(i))
                    }
                }
            }
            try await group.waitForAll()
        }
        for (scope, (_, collector)) in zip(scopes, watchers) {
            var expected: [LogEntry] = []
            while true {
                let page = try await server.store.log(scope, after: expected.last?.cursor, limit: 1000)
                if page.isEmpty { break }
                expected += page
            }
            let got = try await collector.events(expected.count, timeout: 300)  // a hang guard, not a speed bound
            #expect(got.count == expected.count, "\(scope)")
            #expect(got.compactMap { $0["cursor"]?.stringValue } == expected.map(\.cursor), "\(scope)")
            #expect(Set(got.map(key)).count == got.count)
            // Per item, versions only go up.
            var lastVersion: [String: Int] = [:]
            for e in got {
                let item = "\(e["ns"]!)|\(e["key"]!)"
                let v = e["version"]?.intValue ?? 0
                #expect(v > lastVersion[item, default: 0])
                lastVersion[item] = v
            }
        }
        #expect(watchers[0].1.resyncs.isEmpty)
        let total = try await server.store.log(scopes[0], limit: 1000).count
        #expect(total == 1000)  // sanity: the first page is full (8 × 500 writes)
        for c in writers + watchers.map(\.0) { await c.close() }
        await server.stop()
    }

    @Test func resumeFromCursorGetsExactlyTheMissedEvents() async throws {
        let server = try await TestServer()
        let t = uniqueTenant()
        let ns = try Namespace(tenant: t)
        let writer = try await server.client(admin: true)
        var watcher = try await server.client(admin: true)
        var events = EventCollector(watcher)
        _ = try await watcher.subscribe(try Scope(tenant: t))
        for i in 1...10 { try await writer.put(ns, key: "k", value: .int(i)) }
        let firstTen = try await events.events(10)
        let cursor = try #require(firstTen.last?["cursor"]?.stringValue)
        await watcher.close()
        for i in 11...25 { try await writer.put(ns, key: "k", value: .int(i)) }  // while away
        watcher = try await server.client(admin: true)
        events = EventCollector(watcher)
        let resumed = try await watcher.subscribe(try Scope(tenant: t), from: cursor)
        #expect(resumed.cursor == cursor)
        let missed = try await events.events(15)
        #expect(missed.map { $0["version"]?.intValue ?? 0 } == Array(11...25))
        try await writer.put(ns, key: "k", value: 26)
        #expect(try await events.events(1).map { $0["version"]?.intValue ?? 0 } == [26])
        #expect(events.resyncs.isEmpty)
        // A cursor ahead of the stream is refused.
        await expectError(.invalidParams) { () throws(CairnError) in
            _ = try await watcher.subscribe(try Scope(tenant: t), from: "99999999999999-0")
        }
        await writer.close()
        await watcher.close()
        await server.stop()
    }

    @Test func cursorOlderThanTheTrimmedStreamGetsResyncFirst() async throws {
        let server = try await TestServer(storeOptions: StoreOptions(streamLength: 10))
        let t = uniqueTenant()
        let ns = try Namespace(tenant: t)
        let writer = try await server.client(admin: true)
        let first = try await writer.put(ns, key: "k", value: 0)
        _ = first
        let oldCursor = try #require(try await writer.log(try Scope(tenant: t), limit: 1).first?.cursor)
        // Approximate trimming drops whole stream nodes (100 entries by default): write enough.
        for i in 1...400 { try await writer.put(ns, key: "k", value: .int(i)) }
        let bounds = try await server.store.streamBounds(tenant: t)
        #expect(bounds.trimmedThrough > StreamCursor(oldCursor)!)
        let watcher = try await server.client(admin: true)
        let events = EventCollector(watcher)
        _ = try await watcher.subscribe(try Scope(tenant: t), from: oldCursor)
        let kept = try await server.store.readStream(tenant: t, after: bounds.trimmedThrough, count: 1000).count
        let got = try await events.events(kept)
        #expect(events.resyncs.count == 1)
        #expect(events.resyncs.first?["reason"] == "trimmed")
        #expect(events.resyncs.first?["cursor"] == .string(bounds.trimmedThrough.description))
        #expect(got.count == kept)
        #expect(got.last?["version"] == 401)
        await writer.close()
        await watcher.close()
        await server.stop()
    }

    @Test func writeThroughOneServerReachesSubscribersOfAnother() async throws {
        let a = try await TestServer()
        let b = try await TestServer()
        let t = uniqueTenant()
        let watcher = try await b.client(admin: true)
        let events = EventCollector(watcher)
        _ = try await watcher.subscribe(try Scope(tenant: t))
        let writer = try await a.client(admin: true)
        try await writer.put(try Namespace(tenant: t), key: "cross", value: "over")
        let got = try await events.events(1)
        #expect(got.first?["key"] == "cross")
        await writer.close()
        await watcher.close()
        await a.stop()
        await b.stop()
    }

    @Test func killedPubSubConnectionLosesNoEvent() async throws {
        // A private Redis: killing every pub/sub connection would hit other tests' servers too.
        try await TestRedis.withPrivateServer { redis in
            let pool = RedisPool(configuration: try RedisConfiguration(url: redis.url, poolSize: 4))
            let server = try await TestServer(pool: pool)
            let t = uniqueTenant()
            let ns = try Namespace(tenant: t)
            let watcher = try await server.client(admin: true)
            let events = EventCollector(watcher)
            _ = try await watcher.subscribe(try Scope(tenant: t))
            let writer = try await server.client(admin: true)
            let killer = RedisPool(configuration: try RedisConfiguration(url: redis.url, poolSize: 1))
            let written = SharedCounter()
            let writes = Task {
                for i in 0..<300 {
                    try await writer.put(ns, key: "k\(i % 5)", value: .int(i))
                    written.increment()
                }
            }
            // Five kills spread over the writes: each lands after the next 50 writes, with more to come.
            for round in 1...5 {
                await eventually(30) { written.value >= round * 50 }
                _ = try await killer.withConnection { try await $0.run(["CLIENT", "KILL", "TYPE", "pubsub"]) }
            }
            try await writes.value
            let got = try await events.events(300)
            #expect(got.count == 300)
            #expect(Set(got.map(key)).count == 300)
            await eventually { server.server.feed.isListening }
            await writer.close()
            await watcher.close()
            await server.stop()
            await pool.shutdown()
            await killer.shutdown()
        }
    }

    @Test func slowSubscriberIsDroppedAndOthersAreUnaffected() async throws {
        let server = try await TestServer { configuration in
            // Small enough that the silent client overflows long before 3,000 events; large enough
            // that the healthy one never falls that far behind, even on a busy machine.
            configuration.maxBufferedEvents = 500
            configuration.maxPendingOutputBytes = 16 * 1024
        }
        let t = uniqueTenant()
        let ns = try Namespace(tenant: t)
        // The slow one subscribes and then never reads.
        let slow = try await RawLineClient(port: server.port, reading: false)
        try await slow.send(#"{"id":1,"method":"auth","params":{"token":"\#(server.adminToken)"}}"# + "\n")
        try await slow.send(#"{"id":2,"method":"subscribe","params":{"scope":{"tenant":"\#(t)"},"include_values":true}}"# + "\n")
        let healthy = try await server.client(admin: true)
        let events = EventCollector(healthy)
        _ = try await healthy.subscribe(try Scope(tenant: t))
        #expect(server.server.feed.subscriptionCount == 2)
        let writer = try await server.client(admin: true)
        let big = String(repeating: "x", count: 2000)
        for i in 0..<3000 { try await writer.put(ns, key: "k\(i % 20)", value: .string(big)) }
        // The healthy subscriber got everything.
        let got = try await events.events(3000, timeout: 300)  // a hang guard, not a speed bound
        #expect(got.count == 3000)
        #expect(events.resyncs.isEmpty)
        // The slow one was dropped, and says so in the metrics.
        await eventually(30) { server.server.feed.subscriptionCount == 1 }
        let metrics = String(decoding: server.server.metrics.exposition(), as: UTF8.self)
        #expect(metrics.contains("cairn_subscriptions_dropped_total 1"))
        // When it finally reads: hello, answers, some events, then a resync, and no more events.
        try await slow.startReading()
        var lines: [JSONValue] = []
        while let line = try await slow.readJSON(timeout: 5) {
            lines.append(line)
            if line["method"] == "resync" { break }
        }
        let resync = try #require(lines.last)
        #expect(resync["method"] == "resync")
        #expect(resync["params"]?["reason"] == "too_slow")
        let delivered = lines.filter { $0["method"] == "event" }.count
        #expect(delivered < 3000)
        try await slow.send(#"{"id":3,"method":"ping"}"# + "\n")
        #expect(try await slow.readJSON()?["id"] == 3)  // the connection itself still works
        await slow.close()
        await writer.close()
        await healthy.close()
        await server.stop()
    }

    @Test func subscriptionsStayInsideTheToken() async throws {
        let server = try await TestServer { $0.maxSubscriptionsPerConnection = 2 }
        let t = uniqueTenant()
        let reader = try await server.client(token: try await server.token(tenant: t, grants: ["read"], task: "t1"))
        let forbidden = await expectError(.forbidden) { () throws(CairnError) in _ = try await reader.subscribe(try Scope(tenant: t + "x")) }
        #expect(forbidden?.code == 4003)
        await expectError(.forbidden) { () throws(CairnError) in _ = try await reader.subscribe(try Scope(tenant: t)) }
        let writer = try await server.client(token: try await server.token(tenant: t, grants: ["write"]))
        await expectError(.forbidden) { () throws(CairnError) in _ = try await writer.subscribe(try Scope(tenant: t)) }
        let s1 = try await reader.subscribe(try Scope(tenant: t, task: .equals("t1")))
        _ = try await reader.subscribe(try Scope(tenant: t, task: .equals("t1"), role: .equals("r")))
        await expectError(.tooMany) { () throws(CairnError) in _ = try await reader.subscribe(try Scope(tenant: t, task: .equals("t1"))) }
        try await reader.unsubscribe(s1.subscription)
        await expectError(.notFound) { () throws(CairnError) in try await reader.unsubscribe(s1.subscription) }
        _ = try await reader.subscribe(try Scope(tenant: t, task: .equals("t1")))
        for c in [reader, writer] { await c.close() }
        await eventually { server.server.feed.subscriptionCount == 0 }  // closing the connection ends them
        await server.stop()
    }
}

@Suite struct EventRevocationTests {
    @Test func revokingATokenEndsItsQuietSubscriptions() async throws {
        let server = try await TestServer()
        let other = try await TestServer()
        let t = uniqueTenant()
        let admin = try await server.client(admin: true)
        let minted = try await admin.createToken(tenant: t, principal: "watcher", grants: ["read", "write"])
        let local = try await server.client(token: minted.token)
        let remote = try await other.client(token: minted.token)
        var collectors: [EventCollector] = []
        for c in [local, remote] {
            let collector = EventCollector(c)
            _ = try await c.subscribe(try Scope(tenant: t))
            try await c.put(try Namespace(tenant: t), key: "k", value: .int(collectors.count))
            collectors.append(collector)
        }
        let seen = try await collectors[0].events(2)
        #expect(seen.count == 2)
        // No more writes: the subscriptions are quiet when the token is revoked.
        try await admin.revokeToken(id: minted.tokenID)
        let localResync = try await collectors[0].resync()
        let remoteResync = try await collectors[1].resync()
        #expect(localResync?["reason"] == "token_revoked")
        #expect(remoteResync?["reason"] == "token_revoked")
        #expect(localResync?["cursor"] == seen.last?["cursor"])  // resume point: the last event sent
        await eventually { server.server.feed.subscriptionCount == 0 && other.server.feed.subscriptionCount == 0 }
        for c in [admin, local, remote] { await c.close() }
        await server.stop()
        await other.stop()
    }
}
