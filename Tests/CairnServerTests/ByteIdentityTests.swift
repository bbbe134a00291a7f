import Cairn
import CairnClient
import CairnProtocol
import CairnServer
import CairnTestSupport
import Foundation
import Testing

/// Different byte strings that Swift's `String ==` calls equal: compatibility characters and
/// NFC/NFD. Cairn must treat each pair as two names everywhere.
let lookAlikePairs: [(String, String)] = [
    ("\u{212A}raken", "Kraken"), ("\u{E9}", "e\u{301}"), ("\u{212B}", "\u{C5}"), ("\u{2126}", "\u{3A9}"),
]

/// Two fresh tenants that differ only in the look-alike prefix.
func lookAlikeTenants(_ a: String, _ b: String) -> (String, String) {
    let suffix = "-" + uniqueTenant("bytes")
    return (a + suffix, b + suffix)
}

/// Block and agent methods addressing `tenant`, for the access matrix.
func everyBlockMethod(_ tenant: String, label: String = "blk", agent: String = "ag") -> [(String, JSONValue)] {
    let ns: JSONValue = ["tenant": .string(tenant)]
    let l = JSONValue.string(label)
    return [
        ("block.create", ["ns": ns, "label": "new", "value": "x"]),
        ("block.get", ["ns": ns, "label": l]),
        ("block.update", ["ns": ns, "label": l, "value": "y"]),
        ("block.insert", ["ns": ns, "label": l, "text": "y"]),
        ("block.replace", ["ns": ns, "label": l, "old": "x", "new": "y"]),
        ("block.rethink", ["ns": ns, "label": l, "value": "y"]),
        ("block.delete", ["ns": ns, "label": l]),
        ("block.list", ["scope": ns]),
        ("block.attach", ["ns": ns, "label": l, "agent": "other"]),
        ("block.detach", ["ns": ns, "label": l, "agent": .string(agent)]),
        ("block.agents", ["ns": ns, "label": l]),
        ("agent.blocks", ["tenant": .string(tenant), "agent": .string(agent)]),
        ("agent.context", ["tenant": .string(tenant), "agent": .string(agent)]),
        ("subscribe", ["scope": ns]),
    ]
}

@Suite struct ByteIdentityServerTests {
    @Test func aTenantsTokenIsForbiddenOnItsLookAlike() async throws {
        let server = try await TestServer()
        let admin = try await server.client(admin: true)
        for (a, b) in lookAlikePairs {
            let (tA, tB) = lookAlikeTenants(a, b)
            for (mine, theirs) in [(tA, tB), (tB, tA)] {
                let victim = try Namespace(tenant: theirs)
                try await admin.put(victim, key: "exists", value: ["secret": true])
                try await admin.createBlock(victim, label: "blk", value: "x", agents: ["ag"])
                let token = try await server.token(tenant: mine, grants: ["read", "append", "write", "admin"])
                let client = try await server.client(token: token)
                for (method, params) in everyTenantMethod(theirs, key: "exists") + everyBlockMethod(theirs) {
                    let response = try await client.rawCall(method, params)
                    #expect(response["error"]?["code"] == 4003, "\(method) on \(theirs.debugDescription) with a token of \(mine.debugDescription)")
                    #expect(response["result"] == nil, "\(method)")
                }
                // Its own tenant works, and the other tenant is untouched.
                #expect(try await client.get(try Namespace(tenant: mine), key: "never") == nil)
                #expect(try await admin.get(victim, key: "exists")?.version == 1)
                #expect(try await admin.get(victim, key: "absent") == nil)
                let block = try await admin.block(victim, label: "blk")
                #expect(block.version == 1 && block.value == "x")
                #expect(try await admin.blockAgents(victim, label: "blk") == ["ag"])
                await client.close()
            }
        }
        await admin.close()
        await server.stop()
    }

    @Test func aNarrowedTokenDoesNotWorkInTheLookAlikeTaskOrRole() async throws {
        let server = try await TestServer()
        let t = uniqueTenant("narrow")
        for (a, b) in lookAlikePairs {
            for component in ["task", "role"] {
                let token = try await server.token(
                    tenant: t, grants: ["read", "write"], task: component == "task" ? a : nil, role: component == "role" ? a : nil)
                let client = try await server.client(token: token)
                let own: JSONValue = ["tenant": .string(t), JSONKey(component): .string(a)]
                let other: JSONValue = ["tenant": .string(t), JSONKey(component): .string(b)]
                let calls: [(String, (JSONValue) -> JSONValue)] = [
                    ("put", { ["ns": $0, "key": "k", "value": 1] }), ("get", { ["ns": $0, "key": "k"] }),
                    ("delete", { ["ns": $0, "key": "nothing"] }), ("history", { ["ns": $0, "key": "k"] }),
                    ("search", { ["scope": $0] }), ("list_namespaces", { ["scope": $0] }), ("log", { ["scope": $0] }),
                    ("block.create", { ["ns": $0, "label": "b", "value": "x"] }), ("block.get", { ["ns": $0, "label": "b"] }),
                    ("block.list", { ["scope": $0] }), ("subscribe", { ["scope": $0] }),
                ]
                for (method, params) in calls {
                    let refused = try await client.rawCall(method, params(other))
                    #expect(refused["error"]?["code"] == 4003, "\(method) in \(component) \(b.debugDescription) with a token of \(a.debugDescription)")
                    let allowed = try await client.rawCall(method, params(own))
                    #expect(allowed["error"] == nil, "\(method) in its own \(component) \(a.debugDescription): \(allowed)")
                }
                await client.close()
            }
        }
        await server.stop()
    }

    @Test func dataUnderOneNameIsNeverVisibleUnderTheOther() async throws {
        let server = try await TestServer()
        let admin = try await server.client(admin: true)
        for (a, b) in lookAlikePairs {
            // Tenants.
            let (tA, tB) = lookAlikeTenants(a, b)
            let (nsA, nsB) = (try Namespace(tenant: tA), try Namespace(tenant: tB))
            try await admin.put(nsA, key: "k", value: "A")
            try await admin.put(nsB, key: "k", value: "B")
            try await admin.put(nsB, key: "k", value: "B2")
            #expect(try await admin.get(nsA, key: "k")?.value == "A")
            #expect(try await admin.get(nsB, key: "k")?.value == "B2")
            #expect(try await admin.search(try Scope(tenant: tA)).map(\.value) == ["A"])
            #expect(try await admin.listNamespaces(try Scope(tenant: tA)) == [nsA])
            #expect(try await admin.history(nsA, key: "k").map(\.version) == [1])
            #expect(try await admin.log(try Scope(tenant: tA)).map(\.version) == [1])
            #expect(try await admin.log(try Scope(tenant: tB)).map(\.version) == [1, 2])

            // Tasks of one tenant.
            let t = uniqueTenant("inside")
            let (taskA, taskB) = (try Namespace(tenant: t, task: a), try Namespace(tenant: t, task: b))
            try await admin.put(taskA, key: "k", value: "A")
            try await admin.put(taskB, key: "k", value: "B")
            #expect(try await admin.search(try Scope(tenant: t, task: .equals(Name(a)))).map(\.value) == ["A"])
            #expect(try await admin.search(try Scope(tenant: t, task: .equals(Name(b)))).map(\.value) == ["B"])
            let namespaces = try await admin.listNamespaces(try Scope(tenant: t))
            #expect(namespaces == [taskA, taskB].sorted())
            #expect(try await admin.log(try Scope(tenant: t, task: .equals(Name(a)))).map(\.ns) == [taskA])

            // Keys of one namespace.
            let ns = try Namespace(tenant: t)
            try await admin.put(ns, key: a, value: "A")
            try await admin.put(ns, key: b, value: "B")
            #expect(try await admin.get(ns, key: a)?.value == "A")
            #expect(try await admin.get(ns, key: b)?.value == "B")
            let items = try await admin.search(try Scope(tenant: t, task: .absent, role: .absent))
            #expect(items.count == 2 && Set(items.map(\.key)) == [Name(a), Name(b)])
            #expect(try await admin.history(ns, key: a).count == 1)
            #expect(try await admin.delete(ns, key: a).existed)
            #expect(try await admin.get(ns, key: a) == nil)
            #expect(try await admin.get(ns, key: b)?.value == "B")

            // Labels attached to one agent, and agents of one block.
            let blocks = try Namespace(tenant: t, role: "blocks")
            try await admin.createBlock(blocks, label: a, value: "A", agents: ["ag"])
            try await admin.createBlock(blocks, label: b, value: "B", agents: ["ag"])
            let context = try await admin.agentContext(tenant: t, agent: "ag")
            #expect(context.blocks.map(\.value) == (Name(a) < Name(b) ? ["A", "B"] : ["B", "A"]))
            #expect(try await admin.listBlocks(try Scope(tenant: t, role: .equals("blocks"))).count == 2)
            try await admin.createBlock(blocks, label: "shared", value: "S", agents: [a, b])
            let agents = try await admin.blockAgents(blocks, label: "shared")
            #expect(agents.map { Name($0) } == [Name(a), Name(b)].sorted())
            #expect(try await admin.agentBlocks(tenant: t, agent: a).map(\.key) == ["shared"])
            try await admin.detach(blocks, label: "shared", agent: a)
            #expect(try await admin.agentBlocks(tenant: t, agent: a).isEmpty)
            #expect(try await admin.agentBlocks(tenant: t, agent: b).map(\.key) == ["shared"])

            // Principals in the audit log.
            let byA = try await server.client(token: try await server.token(tenant: t, principal: a, grants: ["read", "write"]))
            let byB = try await server.client(token: try await server.token(tenant: t, principal: b, grants: ["read", "write"]))
            let logged = try Namespace(tenant: t, role: "log")
            try await byA.put(logged, key: "x", value: 1)
            try await byB.put(logged, key: "x", value: 2)
            let entries = try await admin.log(try Scope(tenant: t, role: .equals("log")), by: a)
            #expect(entries.map(\.version) == [1] && entries.allSatisfy { $0.by == Name(a) })
            for c in [byA, byB] { await c.close() }
        }
        await admin.close()
        await server.stop()
    }

    @Test func valuesKeepLookAlikeObjectKeys() async throws {
        let server = try await TestServer()
        let admin = try await server.client(admin: true)
        let ns = try Namespace(tenant: uniqueTenant("json"))
        for (i, (a, b)) in lookAlikePairs.enumerated() {
            let key = "v\(i)"
            let value: JSONValue = [JSONKey(a): 1, JSONKey(b): 2, "nested": [JSONKey(b): .string(a)]]
            try await admin.put(ns, key: key, value: value)
            let stored = try await admin.get(ns, key: key)?.value
            #expect(stored?.objectValue?.count == 3 && stored == value)
            #expect(stored?.serializedBytes() == value.serializedBytes())
            // The raw answer has both members too (not just the decoded one).
            let raw = try await admin.rawCall("get", ["ns": Wire.namespace(ns), "key": .string(key)])
            #expect(raw["result"]?["value"]?.objectValue?.count == 3)
            let hits = try await admin.search(try Scope(tenant: ns.tenant), filter: [JSONKey("nested." + b): .string(a)])
            #expect(hits.map(\.key).contains(Name(key)))
            let misses = try await admin.search(try Scope(tenant: ns.tenant), filter: [JSONKey("nested." + a): .string(a)])
            #expect(!misses.map(\.key).contains(Name(key)))
            let wrongValue = try await admin.search(try Scope(tenant: ns.tenant), filter: [JSONKey("nested." + b): .string(b)])
            #expect(!wrongValue.map(\.key).contains(Name(key)))
        }
        await admin.close()
        await server.stop()
    }

    @Test func tokenListAndRevokeStayInTheirTenant() async throws {
        let server = try await TestServer()
        let admin = try await server.client(admin: true)
        for (a, b) in lookAlikePairs {
            let (tA, tB) = lookAlikeTenants(a, b)
            let tokenB = try await admin.createToken(tenant: tB, principal: "bob", grants: ["read"])
            let adminA = try await server.client(token: try await server.token(tenant: tA, grants: ["admin"]))
            #expect(try await adminA.listTokens(tenant: tA).allSatisfy { $0.tokenID != tokenB.tokenID })
            await expectError(.forbidden) { () throws(CairnError) in _ = try await adminA.listTokens(tenant: tB) }
            await expectError(.notFound) { () throws(CairnError) in try await adminA.revokeToken(id: tokenB.tokenID) }
            let clientB = try await server.client(token: tokenB.token)
            #expect(try await clientB.get(try Namespace(tenant: tB), key: "k") == nil)  // still valid
            #expect(try await admin.listTokens(tenant: tB).map(\.tokenID) == [tokenB.tokenID])
            for c in [adminA, clientB] { await c.close() }
        }
        await admin.close()
        await server.stop()
    }

    @Test func subscriptionsGetExactlyTheirOwnEvents() async throws {
        let server = try await TestServer()
        let writer = try await server.client(admin: true)
        let watcher = try await server.client(admin: true)
        let collector = EventCollector(watcher)
        var expected: [String: [Namespace]] = [:]  // subscription id → the namespaces of its events, in order
        var writes: [Namespace] = []
        var scopes: [(Scope, String)] = []
        for (a, b) in lookAlikePairs {
            let (tA, tB) = lookAlikeTenants(a, b)
            let t = uniqueTenant("tasks")
            for (tenant, task) in [(tA, nil), (tB, nil), (t, a), (t, b)] as [(String, String?)] {
                let scope = try Scope(tenant: tenant, task: task.map { .equals(Name($0)) } ?? .any)
                let sub = try await watcher.subscribe(scope)
                scopes.append((scope, sub.subscription))
                writes.append(try Namespace(tenant: tenant, task: task))
            }
        }
        // Interleaved writes: three rounds over every namespace.
        for round in 1...3 {
            for ns in writes { try await writer.put(ns, key: "k", value: .int(round)) }
        }
        for (scope, id) in scopes {
            expected[id] = (1...3).flatMap { _ in writes.filter { scope.contains($0) } }
        }
        let total = expected.values.map(\.count).reduce(0, +)
        let events = try await collector.events(total)
        #expect(events.count == total)
        var got: [String: [Namespace]] = [:]
        for event in events {
            let ns = try Wire.decodeNamespace(event["ns"] ?? .null)
            got[event["subscription"]?.stringValue ?? "?", default: []].append(ns)
        }
        for (scope, id) in scopes {
            #expect(got[id] == expected[id], "\(id) on \(scope)")
            #expect(got[id]?.count == 3, "\(id) gets its own three writes, none of the look-alike's")
        }
        // Nothing more arrives: the next write is the very next event.
        try await writer.put(writes[0], key: "last", value: 0)
        let next = try await collector.events(1)
        #expect(next.first?["key"] == "last" && next.first?["subscription"] == .string(scopes[0].1))
        for c in [writer, watcher] { await c.close() }
        await server.stop()
    }
}
