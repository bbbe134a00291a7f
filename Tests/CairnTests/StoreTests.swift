@testable import Cairn
import CairnCore
import CairnRedis
import Foundation
import CairnTestSupport
import Testing

@Suite struct StoreTests {
    let store = TestRedis.store()

    @Test func roundTripsEveryJSONType() async throws {
        let ns = try Namespace(tenant: uniqueTenant(), task: "t", role: "r")
        let values: [JSONValue] = [
            true, false, 0, -7, 9_007_199_254_740_993, 3.25, -1e-7, "", "text with \"quotes\" and 😀\n",
            [], [1, "two", [3], ["four": 4]], [:], ["z": 1, "a": ["nested": [true, .null, 2.5]], "unicode key é": "v"],
        ]
        for (i, value) in values.enumerated() {
            let key = "k\(i)"
            let result = try await store.put(ns, key: key, value: value, by: alice)
            #expect(result.version == 1)
            let item = try #require(try await store.get(ns, key: key))
            #expect(item.value == value)
            #expect(item.value.serialized() == value.serialized())  // member order too
            #expect(item.kind == .item && item.ns == ns && item.key == Name(key) && item.updatedBy == "alice")
        }
    }

    @Test func versionsTimesAndTombstones() async throws {
        let ns = try Namespace(tenant: uniqueTenant())
        let first = try await store.put(ns, key: "k", value: 1, by: alice)
        #expect(first.version == 1)
        #expect(first.createdAt == first.updatedAt)
        // Let Redis's clock move on, so that `updated_at` must advance.
        await eventually { (try? await self.redisNow()).map { $0 > first.updatedAt.millisecondsSince1970 } ?? false }
        let second = try await store.put(ns, key: "k", value: 2, by: Attribution(principal: "bob", agent: "worker-1"))
        #expect(second.version == 2)
        #expect(second.createdAt == first.createdAt)
        #expect(second.updatedAt > first.updatedAt)
        let item = try #require(try await store.get(ns, key: "k"))
        #expect(item.version == 2 && item.updatedBy == "bob" && item.agent == "worker-1")
        #expect(item.createdAt == first.createdAt && item.updatedAt == second.updatedAt)

        #expect(try await store.put(ns, key: "k", value: 3, by: alice).version == 3)
        let deleted = try await store.delete(ns, key: "k", by: alice)
        #expect(deleted == DeleteResult(version: 4, existed: true))
        #expect(try await store.get(ns, key: "k") == nil)
        #expect(try await store.delete(ns, key: "k", by: alice).existed == false)
        #expect(try await store.delete(ns, key: "never", by: alice) == DeleteResult(version: 0, existed: false))
        let again = try await store.put(ns, key: "k", value: "back", by: alice)
        #expect(again.version == 5)
        #expect(again.createdAt >= second.updatedAt)  // a new item: created anew
        #expect(try await store.get(ns, key: "k")?.agent == nil)
    }

    func redisNow() async throws -> Int64 {
        Store.milliseconds(fromTime: try await TestRedis.pool.send(["TIME"]))
    }

    @Test func historicalVersions() async throws {
        let ns = try Namespace(tenant: uniqueTenant(), role: "r")
        for i in 1...5 { try await store.put(ns, key: "k", value: .int(i * 10), by: alice) }
        try await store.delete(ns, key: "k", by: alice)
        try await store.put(ns, key: "k", value: "seven", by: alice)
        #expect(try await store.get(ns, key: "k", version: 2)?.value == 20)
        #expect(try await store.get(ns, key: "k", version: 2)?.version == 2)
        #expect(try await store.get(ns, key: "k", version: 6) == nil)  // the delete
        #expect(try await store.get(ns, key: "k", version: 7)?.value == "seven")
        #expect(try await store.get(ns, key: "k", version: 8) == nil)

        let short = TestRedis.store(StoreOptions(historyLimit: 3))
        let ns2 = try Namespace(tenant: uniqueTenant())
        for i in 1...6 { try await short.put(ns2, key: "k", value: .int(i), by: alice) }
        #expect(try await short.get(ns2, key: "k", version: 4)?.value == 4)
        let error = await expectError(.versionUnavailable) { () throws(CairnError) in try await short.get(ns2, key: "k", version: 3) }
        #expect(error?.code == 4015)
        #expect(try await short.history(ns2, key: "k").map(\.version) == [6, 5, 4])
    }

    @Test func compareAndSet() async throws {
        let ns = try Namespace(tenant: uniqueTenant(), task: "t")
        #expect(try await store.put(ns, key: "k", value: "a", ifVersion: 0, by: alice).version == 1)
        let exists = await expectError(.versionConflict) { () throws(CairnError) in
            try await store.put(ns, key: "k", value: "b", ifVersion: 0, by: alice)
        }
        #expect(exists?.currentVersion == 1)
        #expect(try await store.put(ns, key: "k", value: "b", ifVersion: 1, by: alice).version == 2)
        let stale = await expectError(.versionConflict) { () throws(CairnError) in
            try await store.put(ns, key: "k", value: "c", ifVersion: 1, by: alice)
        }
        #expect(stale?.currentVersion == 2)
        #expect(stale?.code == 4009)
        // The failed writes changed nothing.
        #expect(try await store.get(ns, key: "k")?.value == "b")
        #expect(try await store.get(ns, key: "k")?.version == 2)
        #expect(try await store.history(ns, key: "k").count == 2)
        let absent = await expectError(.versionConflict) { () throws(CairnError) in
            try await store.put(ns, key: "nope", value: 1, ifVersion: 3, by: alice)
        }
        #expect(absent?.currentVersion == 0)
        #expect(try await store.get(ns, key: "nope") == nil)
        // Delete honours if_version too.
        await expectError(.versionConflict) { () throws(CairnError) in try await store.delete(ns, key: "k", ifVersion: 1, by: alice) }
        #expect(try await store.delete(ns, key: "k", ifVersion: 2, by: alice).existed)
        // After a delete the key is absent again: create-only works, and versions go on.
        #expect(try await store.put(ns, key: "k", value: "c", ifVersion: 0, by: alice).version == 4)
    }

    @Test func badInputIsRefusedAndWritesNothing() async throws {
        let tenant = uniqueTenant()
        let ns = try Namespace(tenant: tenant)
        await expectError(.invalidValue) { () throws(CairnError) in try await store.put(ns, key: "k", value: .null, by: alice) }
        await expectError(.invalidKey) { () throws(CairnError) in try await store.put(ns, key: "", value: 1, by: alice) }
        await expectError(.invalidKey) { () throws(CairnError) in try await store.put(ns, key: "a\u{0}", value: 1, by: alice) }
        await expectError(.invalidKey) { () throws(CairnError) in
            try await store.put(ns, key: "k", value: 1, by: Attribution(principal: "p", agent: ""))
        }
        let small = TestRedis.store(StoreOptions(maxValueBytes: 100))
        let big = await expectError(.valueTooLarge) { () throws(CairnError) in
            try await small.put(ns, key: "k", value: .string(String(repeating: "x", count: 200)), by: alice)
        }
        #expect(big?.field == "value")
        #expect(try await store.listNamespaces(try Scope(tenant: tenant)).isEmpty)
        #expect(try await store.log(try Scope(tenant: tenant)).isEmpty)
    }

    @Test func historyAndLogRecordWhoWhenWhatWhy() async throws {
        let tenant = uniqueTenant()
        let ns = try Namespace(tenant: tenant, task: "t1")
        let other = try Namespace(tenant: tenant, task: "t2")
        try await store.put(ns, key: "plan", value: "v1", by: Attribution(principal: "alice", agent: "planner", reason: "first draft"))
        try await store.put(other, key: "x", value: 1, by: Attribution(principal: "bob"))
        try await store.put(ns, key: "plan", value: "v2", by: Attribution(principal: "bob", reason: "fix typo"))
        try await store.delete(ns, key: "plan", by: Attribution(principal: "carol", agent: "cleaner", reason: "done"))

        let history = try await store.history(ns, key: "plan")
        #expect(history.map(\.version) == [3, 2, 1])
        #expect(history.map(\.op) == [.delete, .put, .put])
        #expect(history.map(\.by) == ["carol", "bob", "alice"])
        #expect(history.map(\.agent) == ["cleaner", nil, "planner"])
        #expect(history.map(\.reason) == ["done", "fix typo", "first draft"])
        #expect(history.map(\.value) == [nil, "v2", "v1"])
        #expect(history[0].at >= history[1].at && history[1].at >= history[2].at)
        #expect(try await store.history(ns, key: "plan", limit: 1, beforeVersion: 3).map(\.version) == [2])
        #expect(try await store.history(ns, key: "plan", beforeVersion: 1).isEmpty)
        #expect(try await store.history(ns, key: "absent").isEmpty)

        let log = try await store.log(try Scope(tenant: tenant, task: .equals("t1")))
        #expect(log.map(\.version) == [1, 2, 3])
        #expect(log.map(\.op) == [.put, .put, .delete])
        #expect(log.map(\.type) == ["write", "write", "delete"])
        #expect(log.map(\.by) == ["alice", "bob", "carol"])
        #expect(log.map(\.reason) == ["first draft", "fix typo", "done"])
        #expect(log.allSatisfy { $0.ns == ns && $0.key == "plan" })
        let all = try await store.log(try Scope(tenant: tenant))
        #expect(all.count == 4)
        #expect(all.map(\.cursor) == all.map(\.cursor).sorted { StreamCursor($0)! < StreamCursor($1)! })
        #expect(try await store.log(try Scope(tenant: tenant), by: "bob").map(\.key) == ["x", "plan"])
        let page2 = try await store.log(try Scope(tenant: tenant), after: all[1].cursor, limit: 2)
        #expect(page2 == Array(all[2...3]))
        #expect(try await store.log(try Scope(tenant: tenant), since: all[3].at).contains(all[3]))
        #expect(try await store.log(try Scope(tenant: tenant), until: Timestamp(millisecondsSince1970: 0)).isEmpty)
    }
}
