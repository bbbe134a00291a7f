@testable import Cairn
import CairnCore
import CairnRedis
import CairnTestSupport
import Testing

/// 5003 only when nothing was written, 5004 when a write's outcome is unknown, and request ids
/// that make a retried write take effect once.
@Suite struct AmbiguousWriteTests {
    let store = TestRedis.store()

    /// A store whose Redis connections pass through a proxy that can cut a connection right
    /// after it forwarded `EXEC`.
    static func withCuttingProxy(_ body: (Store, CuttingProxy, Store) async throws -> Void) async throws {
        try await TestRedis.withPrivateServer { server in
            let proxy = try await CuttingProxy(targetPort: server.port)
            // Generous connect deadlines: the proxy runs in this busy test process, and a
            // connect that waits 1 s for it is not what these tests are about.
            var proxied = try RedisConfiguration(url: "redis://127.0.0.1:\(proxy.port)", poolSize: 2)
            proxied.connectTimeoutMilliseconds = 30_000
            var straight = try RedisConfiguration(url: server.url, poolSize: 1)
            straight.connectTimeoutMilliseconds = 30_000
            let pool = RedisPool(configuration: proxied)
            let direct = RedisPool(configuration: straight)
            try await body(Store(redis: pool), proxy, Store(redis: direct))
            await pool.shutdown()
            await direct.shutdown()
            await proxy.close()
        }
    }

    @Test func aWriteCutAfterExecIsOutcomeUnknownNotUnavailable() async throws {
        try await Self.withCuttingProxy { store, proxy, direct in
            let ns = try Namespace(tenant: uniqueTenant())
            try await store.put(ns, key: "k", value: 1, by: alice)
            proxy.cutNext(1)
            let error = await expectError(.outcomeUnknown) { () throws(CairnError) in try await store.put(ns, key: "k", value: 2, by: alice) }
            #expect(error?.code == 5004)
            #expect(proxy.cuts == 1)
            // It did land: answering 5003 ("nothing was written") would have been a lie.
            await eventually { (try? await direct.get(ns, key: "k"))?.value == 2 }
            // Reads and later writes work again.
            #expect(try await store.put(ns, key: "k", value: 3, by: alice).version == 3)
        }
    }

    @Test func aReadCutAfterExecStaysUnavailable() async throws {
        try await Self.withCuttingProxy { store, proxy, _ in
            let ns = try Namespace(tenant: uniqueTenant())
            try await store.put(ns, key: "k", value: 1, by: alice)
            proxy.cutNext(1)
            // `history` reads in a MULTI/EXEC: nothing can have been written.
            await expectError(.unavailable) { () throws(CairnError) in try await store.history(ns, key: "k", limit: 5) }
            #expect(proxy.cuts == 1)
        }
    }

    @Test func aCutWriteWithARequestIDAnswersItsTrueOutcome() async throws {
        try await Self.withCuttingProxy { store, proxy, direct in
            let ns = try Namespace(tenant: uniqueTenant())
            let id = try RequestID("req-cut-1")
            proxy.cutNext(1)
            let first = try await store.put(ns, key: "k", value: "v", by: alice, request: id)
            #expect(proxy.cuts == 1)
            #expect(first.result.version == 1 && !first.replayed)
            let again = try await store.put(ns, key: "k", value: "v", by: alice, request: id)
            #expect(again.replayed && again.result == first.result)
            #expect(try await direct.history(ns, key: "k", limit: 10).count == 1)
        }
    }

    @Test func aReplayAnswersTheFirstResultAndWritesNothing() async throws {
        let ns = try Namespace(tenant: uniqueTenant())
        let id = try RequestID("put-1")
        let first = try await store.put(ns, key: "k", value: 1, by: alice, request: id)
        #expect(!first.replayed)
        let replay = try await store.put(ns, key: "k", value: 1, by: alice, request: id)
        #expect(replay.replayed && replay.result == first.result)
        #expect(try await store.get(ns, key: "k")?.version == 1)
        #expect(try await store.history(ns, key: "k", limit: 10).count == 1)
        #expect(try await store.log(Scope(tenant: ns.tenant), limit: 10).count == 1)

        // A delete of an absent key is recorded too: its replay stays existed:false.
        let gone = try RequestID("del-1")
        let deleted = try await store.delete(ns, key: "other", by: alice, request: gone)
        try await store.put(ns, key: "other", value: 1, by: alice)
        let replayedDelete = try await store.delete(ns, key: "other", by: alice, request: gone)
        #expect(replayedDelete.replayed && replayedDelete.result == deleted.result)
        #expect(try await store.get(ns, key: "other")?.value == 1)
    }

    @Test func aRequestIDReusedForAnotherTargetOrMethodIsRefused() async throws {
        let ns = try Namespace(tenant: uniqueTenant())
        let id = try RequestID("shared")
        try await store.put(ns, key: "a", value: 1, by: alice, request: id)
        let other = await expectError(.invalidParams) { () throws(CairnError) in
            try await store.put(ns, key: "b", value: 1, by: alice, request: id)
        }
        #expect(other?.field == "request_id" && other?.data["reason_detail"] == "reused")
        await expectError(.invalidParams) { () throws(CairnError) in try await store.delete(ns, key: "a", by: alice, request: id) }
        #expect(try await store.get(ns, key: "b") == nil)
        #expect(try await store.get(ns, key: "a")?.version == 1)
        // Unique per tenant: another tenant may use the same id.
        let elsewhere = try Namespace(tenant: uniqueTenant())
        #expect(try await store.put(elsewhere, key: "b", value: 1, by: alice, request: id).replayed == false)
    }

    @Test func concurrentRetriesOfOneInsertLeaveTheLineOnce() async throws {
        let ns = try Namespace(tenant: uniqueTenant())
        _ = try await store.createBlock(ns, label: "notes", BlockDraft(value: "start"), by: alice)
        let id = try RequestID("insert-once")
        let store = self.store
        let results = try await withThrowingTaskGroup(of: Recorded<(version: Int, value: String)>.self) { group in
            for _ in 0..<8 {
                group.addTask { try await store.insertIntoBlock(ns, label: "notes", text: "finding", by: alice, request: id) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(results.map(\.result.version)) == [2])
        #expect(results.filter { !$0.replayed }.count == 1)
        #expect(try await store.block(ns, label: "notes").value == "start\nfinding")
    }

    @Test func everyBlockWriteReplays() async throws {
        let ns = try Namespace(tenant: uniqueTenant())
        func id(_ s: String) throws -> RequestID { try RequestID(s) }
        let created = try await store.createBlock(ns, label: "b", BlockDraft(value: "x"), by: alice, request: try id("c"))
        let createdAgain = try await store.createBlock(ns, label: "b", BlockDraft(value: "x"), by: alice, request: try id("c"))
        #expect(createdAgain.replayed && createdAgain.result == created.result)
        let replaced = try await store.replaceInBlock(ns, label: "b", old: "x", new: "y", by: alice, request: try id("r"))
        let replacedAgain = try await store.replaceInBlock(ns, label: "b", old: "x", new: "y", by: alice, request: try id("r"))
        #expect(replacedAgain.replayed && replacedAgain.result.version == replaced.result.version && replacedAgain.result.value == "y")
        let rethought = try await store.rethinkBlock(ns, label: "b", value: "z", by: alice, request: try id("t"))
        #expect(try await store.rethinkBlock(ns, label: "b", value: "z", by: alice, request: try id("t")).result == rethought.result)
        let updated = try await store.updateBlock(ns, label: "b", BlockChanges(description: "d"), by: alice, request: try id("u"))
        #expect(try await store.updateBlock(ns, label: "b", BlockChanges(description: "d"), by: alice, request: try id("u")).replayed)
        #expect(try await store.attach(ns, label: "b", agent: "a1", by: alice, request: try id("at")).replayed == false)
        #expect(try await store.attach(ns, label: "b", agent: "a1", by: alice, request: try id("at")).replayed)
        #expect(try await store.detach(ns, label: "b", agent: "a1", by: alice, request: try id("de")).replayed == false)
        #expect(try await store.detach(ns, label: "b", agent: "a1", by: alice, request: try id("de")).replayed)
        let deleted = try await store.deleteBlock(ns, label: "b", by: alice, request: try id("d"))
        #expect(try await store.deleteBlock(ns, label: "b", by: alice, request: try id("d")).result == deleted.result)
        #expect(try await store.history(ns, key: "b", limit: 20).map(\.version) == [deleted.result.version, updated.result, rethought.result, replaced.result.version, 1])
    }

    @Test func requestIDRules() throws {
        #expect(throws: CairnError.self) { try RequestID("") }
        #expect(throws: CairnError.self) { try RequestID(String(repeating: "a", count: 129)) }
        #expect(throws: CairnError.self) { try RequestID("a\nb") }
        #expect(throws: CairnError.self) { try RequestID("a\u{7F}") }
        #expect(try RequestID(String(repeating: "é", count: 64)).text.utf8.count == 128)
        #expect(try RequestID("é") != RequestID("e\u{301}"))
    }
}
