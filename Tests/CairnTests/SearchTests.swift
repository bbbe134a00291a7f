@testable import Cairn
import CairnCore
import CairnRedis
import CairnTestSupport
import Testing

@Suite struct SearchTests {
    let store = TestRedis.store()

    @Test func filtersApplyToStoredItems() async throws {
        let tenant = uniqueTenant()
        let ns = try Namespace(tenant: tenant, task: "t")
        let docs: [(String, JSONValue)] = [
            ("a", ["status": "open", "score": 9, "meta": ["owner": "bob"]]),
            ("b", ["status": "open", "score": 10, "meta": ["owner": "alice"]]),
            ("c", ["status": "closed", "score": 3]),
            ("d", ["status": 1]),
            ("e", "just text"),
        ]
        for (key, value) in docs { try await store.put(ns, key: key, value: value, by: alice) }
        let scope = try Scope(tenant: tenant)
        func keys(_ filter: JSONValue) async throws -> [String] {
            try await store.search(scope, filter: try Filter(filter), limit: 100).map(\.key.string).sorted()
        }
        #expect(try await keys(["status": "open"]) == ["a", "b"])
        #expect(try await keys(["score": ["$gt": 9]]) == ["b"])
        #expect(try await keys(["score": ["$lt": 10]]) == ["a", "c"])
        #expect(try await keys(["meta.owner": ["$ne": "bob"]]) == ["b", "c", "d", "e"])
        // `$ne` is `$eq` negated: d (a number) and e (no status at all) match too.
        #expect(try await keys(["status": ["$ne": "open"]]) == ["c", "d", "e"])
        #expect(try await keys(["score": ["$ne": "9"]]) == ["a", "b", "c", "d", "e"])
        #expect(try await keys(["status": ["$gte": "o"]]) == ["a", "b"])
        #expect(try await keys(["status": "open", "score": ["$gte": 10]]) == ["b"])
    }

    @Test func queryRanksAndLeavesOutNonMatches() async throws {
        let tenant = uniqueTenant()
        let ns = try Namespace(tenant: tenant)
        try await store.put(ns, key: "both", value: ["title": "Redis streams", "body": "streams carry events"], by: alice)
        try await store.put(ns, key: "one", value: ["title": "about redis"], by: alice)
        try await store.put(ns, key: "none", value: ["title": "postgres"], by: alice)
        try await store.put(ns, key: "numbers", value: ["redis": 1], by: alice)  // keys are not content
        let found = try await store.search(try Scope(tenant: tenant), query: TextQuery("redis STREAMS"))
        #expect(found.map(\.key) == ["both", "one"])
        #expect(found[0].score! > found[1].score!)
        #expect(found.allSatisfy { ($0.score ?? 0) > 0 })
        let filtered = try await store.search(try Scope(tenant: tenant), filter: try Filter(["title": "about redis"]), query: TextQuery("redis"))
        #expect(filtered.map(\.key) == ["one"])
    }

    @Test func scopesAreComponentAligned() async throws {
        let a = uniqueTenant("a")
        let ab = a + "b"
        try await store.put(try Namespace(tenant: a), key: "k", value: 1, by: alice)
        try await store.put(try Namespace(tenant: ab), key: "k", value: 2, by: alice)
        try await store.put(try Namespace(tenant: a, task: "x"), key: "k", value: 3, by: alice)
        try await store.put(try Namespace(tenant: a, task: "xy"), key: "k", value: 4, by: alice)
        try await store.put(try Namespace(tenant: a, task: "x", role: "r"), key: "k", value: 5, by: alice)
        func values(_ scope: Scope) async throws -> [Int] {
            try await store.search(scope, limit: 100).compactMap(\.value.intValue).sorted()
        }
        #expect(try await values(try Scope(tenant: a)) == [1, 3, 4, 5])
        #expect(try await values(try Scope(tenant: ab)) == [2])
        #expect(try await values(try Scope(tenant: a, task: .equals("x"))) == [3, 5])
        #expect(try await values(try Scope(tenant: a, task: .equals("x"), role: .absent)) == [3])
        #expect(try await values(try Scope(tenant: a, task: .absent)) == [1])
        #expect(try await values(try Scope(tenant: a, role: .equals("r"))) == [5])
    }

    @Test func pagesConcatenateEvenWithSharedTimestamps() async throws {
        let tenant = uniqueTenant()
        // Many items written in one transaction share one updated_at; the order must still be total.
        let layout = store.layout
        var commands: [RedisCommand] = []
        var expected: [String] = []
        for task in ["t1", "t2"] {
            let ns = try Namespace(tenant: tenant, task: task)
            for i in 0..<40 {
                let key = "k\(i)"
                commands += Store.writeCommands(
                    layout: layout, options: store.options, ns: ns, key: key, version: 1, createdMs: 1000, updatedMs: 1000,
                    valueText: #"{"n":\#(i)}"#, kind: .item, block: nil, op: .put, attribution: alice)
                expected.append("\(task)/\(key)")
            }
        }
        let batch = commands
        _ = try await TestRedis.pool.withConnection { try await $0.transaction(batch) }
        try await store.put(try Namespace(tenant: tenant, task: "t0"), key: "newest", value: ["n": 99], by: alice)

        let scope = try Scope(tenant: tenant)
        var pages: [String] = []
        var offset = 0
        while true {
            let page = try await store.search(scope, limit: 7, offset: offset)
            if page.isEmpty { break }
            pages += page.map { "\($0.ns.task!)/\($0.key)" }
            offset += 7
        }
        let full = try await store.search(scope, limit: 1000).map { "\($0.ns.task!)/\($0.key)" }
        #expect(pages == full)
        #expect(pages.count == 81 && Set(pages).count == 81)
        #expect(pages.first == "t0/newest")
        // Ties: by namespace, then key (code point order: "k10" < "k2").
        #expect(Array(pages[1...3]) == ["t1/k0", "t1/k1", "t1/k10"])
        #expect(Set(pages.dropFirst()) == Set(expected))

        // Filters apply before paging.
        let filter = try Filter(["n": ["$lt": 5]])
        var filtered: [String] = []
        for offset in stride(from: 0, to: 20, by: 3) {
            filtered += try await store.search(scope, filter: filter, limit: 3, offset: offset).map { "\($0.ns.task!)/\($0.key)" }
        }
        #expect(filtered == ["t1/k0", "t1/k1", "t1/k2", "t1/k3", "t1/k4", "t2/k0", "t2/k1", "t2/k2", "t2/k3", "t2/k4"])
    }

    @Test func newestFirstWithoutQuery() async throws {
        let tenant = uniqueTenant()
        let ns = try Namespace(tenant: tenant)
        var last: Timestamp?
        for key in ["first", "second", "third"] {
            if let last {
                await eventually { (try? await TestRedis.pool.send(["TIME"])).map { Store.milliseconds(fromTime: $0) > last.millisecondsSince1970 } ?? false }
            }
            last = try await store.put(ns, key: key, value: .string(key), by: alice).updatedAt
        }
        #expect(try await store.search(try Scope(tenant: tenant)).map(\.key) == ["third", "second", "first"])
        try await store.put(ns, key: "first", value: "again", by: alice)
        #expect(try await store.search(try Scope(tenant: tenant), limit: 1).map(\.key) == ["first"])
    }

    @Test func listNamespacesShowsOnlyLiveOnes() async throws {
        let tenant = uniqueTenant()
        let a = try Namespace(tenant: tenant)
        let b = try Namespace(tenant: tenant, task: "b")
        let c = try Namespace(tenant: tenant, task: "b", role: "r")
        let d = try Namespace(tenant: tenant, role: "z")
        for ns in [c, a, d, b] {
            try await store.put(ns, key: "k1", value: 1, by: alice)
            try await store.put(ns, key: "k2", value: 2, by: alice)
        }
        let scope = try Scope(tenant: tenant)
        #expect(try await store.listNamespaces(scope) == [a, d, b, c])
        #expect(try await store.listNamespaces(scope, limit: 2, offset: 1) == [d, b])
        #expect(try await store.listNamespaces(try Scope(tenant: tenant, task: .equals("b"))) == [b, c])
        try await store.delete(b, key: "k1", by: alice)
        #expect(try await store.listNamespaces(scope) == [a, d, b, c])
        try await store.delete(b, key: "k2", by: alice)
        #expect(try await store.listNamespaces(scope) == [a, d, c])
        #expect(try await store.listNamespaces(try Scope(tenant: tenant + "x")).isEmpty)
    }

    @Test func pageBoundsAreChecked() async throws {
        let scope = try Scope(tenant: uniqueTenant())
        let e = await expectError(.invalidParams) { () throws(CairnError) in try await store.search(scope, limit: 1001) }
        #expect(e?.field == "limit")
        await expectError(.invalidParams) { () throws(CairnError) in try await store.search(scope, limit: 0) }
        await expectError(.invalidParams) { () throws(CairnError) in try await store.listNamespaces(scope, offset: -1) }
    }
}
