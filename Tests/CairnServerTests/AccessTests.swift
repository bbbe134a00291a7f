import Cairn
import CairnClient
import CairnProtocol
import CairnServer
import CairnTestSupport
import Foundation
import Testing

/// Every method, with params addressing `tenant`, for the access matrix.
func everyTenantMethod(_ tenant: String, key: String = "k") -> [(String, JSONValue)] {
    let ns: JSONValue = ["tenant": .string(tenant)]
    return [
        ("put", ["ns": ns, "key": .string(key), "value": 1]),
        ("put", ["ns": ns, "key": .string(key), "value": 1, "if_version": 0]),
        ("get", ["ns": ns, "key": .string(key)]),
        ("get", ["ns": ns, "key": .string(key), "version": 1]),
        ("delete", ["ns": ns, "key": .string(key)]),
        ("search", ["scope": ns]),
        ("search", ["scope": ns, "query": "secret", "filter": ["a": 1]]),
        ("list_namespaces", ["scope": ns]),
        ("history", ["ns": ns, "key": .string(key)]),
        ("log", ["scope": ns]),
        ("token.create", ["tenant": .string(tenant), "principal": "x", "grants": ["read"]]),
        ("token.list", ["tenant": .string(tenant)]),
    ]
}

@Suite struct AccessTests {
    @Test func otherTenantsAreForbiddenAndLearnNothing() async throws {
        let server = try await TestServer()
        let a = uniqueTenant("a"), b = uniqueTenant("b")
        let admin = try await server.client(admin: true)
        // Tenant B has an item "exists" and no item "absent".
        try await admin.put(try Namespace(tenant: b), key: "exists", value: ["secret": true])
        let tokenA = try await server.token(tenant: a, grants: ["read", "append", "write", "admin"])
        let clientA = try await server.client(token: tokenA)
        for key in ["exists", "absent"] {
            for (method, params) in everyTenantMethod(b, key: key) {
                let response = try await clientA.rawCall(method, params)
                #expect(response["error"]?["code"] == 4003, "\(method) \(key)")
                #expect(response["error"]?["data"]?["reason"] == "forbidden")
                #expect(response["result"] == nil)
            }
        }
        // Same answers, to the byte, whether B's item exists or not.
        for ((m1, p1), (_, p2)) in zip(everyTenantMethod(b, key: "exists"), everyTenantMethod(b, key: "absent")) {
            let r1 = try await clientA.rawCall(m1, p1)["error"]
            let r2 = try await clientA.rawCall(m1, p2)["error"]
            #expect(r1 == r2, "\(m1)")
        }
        // Tenant names are compared whole: a token of "x" cannot reach "x" + suffix.
        let tokenX = try await server.token(tenant: "acme", grants: ["read"])
        let clientX = try await server.client(token: tokenX)
        await expectError(.forbidden) { () throws(CairnError) in try await clientX.get(try Namespace(tenant: "acme2"), key: "k") }
        // Nothing was written to B by the refused writes.
        #expect(try await admin.get(try Namespace(tenant: b), key: "absent") == nil)
        #expect(try await admin.get(try Namespace(tenant: b), key: "exists")?.version == 1)
        for c in [admin, clientA, clientX] { await c.close() }
        await server.stop()
    }

    @Test func revokingAnotherTenantsTokenLooksLikeAMissingOne() async throws {
        let server = try await TestServer()
        let a = uniqueTenant("a"), b = uniqueTenant("b")
        let admin = try await server.client(admin: true)
        let bToken = try await admin.createToken(tenant: b, principal: "bob", grants: ["read"])
        let aAdmin = try await server.client(token: try await server.token(tenant: a, grants: ["admin"]))
        let foreign = await expectError(.notFound) { () throws(CairnError) in try await aAdmin.revokeToken(id: bToken.tokenID) }
        let missing = await expectError(.notFound) { () throws(CairnError) in try await aAdmin.revokeToken(id: "tk_0000000000000000") }
        #expect(foreign?.message.replacingOccurrences(of: bToken.tokenID, with: "X") == missing?.message.replacingOccurrences(of: "tk_0000000000000000", with: "X"))
        // Still valid.
        let bClient = try await server.client(token: bToken.token)
        #expect(try await bClient.ping())
        #expect(try await bClient.get(try Namespace(tenant: b), key: "k") == nil)
        for c in [admin, aAdmin, bClient] { await c.close() }
        await server.stop()
    }

    @Test func scopeNarrowedTokensStayInTheirTaskAndRole() async throws {
        let server = try await TestServer()
        let t = uniqueTenant()
        let token = try await server.token(tenant: t, grants: ["read", "write"], task: "t1", role: "worker")
        let client = try await server.client(token: token)
        let inside = try Namespace(tenant: t, task: "t1", role: "worker")
        try await client.put(inside, key: "k", value: 1)
        #expect(try await client.get(inside, key: "k")?.value == 1)
        #expect(try await client.search(try Scope(tenant: t, task: .equals("t1"), role: .equals("worker"))).count == 1)
        for outside in [
            try Namespace(tenant: t), try Namespace(tenant: t, task: "t1"), try Namespace(tenant: t, task: "t2", role: "worker"),
            try Namespace(tenant: t, task: "t1", role: "boss"),
        ] {
            await expectError(.forbidden) { () throws(CairnError) in try await client.put(outside, key: "k", value: 2) }
            await expectError(.forbidden) { () throws(CairnError) in try await client.get(outside, key: "k") }
        }
        // A scope wider than the token's is refused, not silently narrowed.
        await expectError(.forbidden) { () throws(CairnError) in try await client.search(try Scope(tenant: t)) }
        await expectError(.forbidden) { () throws(CairnError) in try await client.log(try Scope(tenant: t, task: .equals("t1"))) }
        #expect(try await client.log(try Scope(tenant: t, task: .equals("t1"), role: .equals("worker"))).count == 1)
        await client.close()
        await server.stop()
    }

    @Test func eachGrantAllowsExactlyItsMethods() async throws {
        let server = try await TestServer()
        let t = uniqueTenant()
        let ns: JSONValue = ["tenant": .string(t)]
        let admin = try await server.client(admin: true)
        try await admin.put(try Namespace(tenant: t), key: "k", value: 0)
        // method → the grants that allow it
        let rules: [(String, JSONValue, Set<String>)] = [
            ("get", ["ns": ns, "key": "k"], ["read"]),
            ("search", ["scope": ns], ["read"]),
            ("list_namespaces", ["scope": ns], ["read"]),
            ("history", ["ns": ns, "key": "k"], ["read"]),
            ("log", ["scope": ns], ["read"]),
            ("put", ["ns": ns, "key": "fresh", "value": 1, "if_version": 0], ["append", "write"]),
            ("put", ["ns": ns, "key": "k", "value": 1], ["write"]),
            ("put", ["ns": ns, "key": "k", "value": 1, "if_version": 99], ["write"]),
            ("delete", ["ns": ns, "key": "gone"], ["write"]),
            ("token.list", ["tenant": .string(t)], ["admin"]),
            ("token.create", ["tenant": .string(t), "principal": "x", "grants": ["read"]], ["admin"]),
        ]
        for grant in ["read", "append", "write", "admin"] {
            let client = try await server.client(token: try await server.token(tenant: t, grants: [grant]))
            for (method, params, allowed) in rules {
                var p = params
                if method == "put", p["if_version"] == 0, case .object(var o) = p {
                    o["key"] = .string("fresh-\(grant)")  // a new key per grant, so create-only can succeed
                    p = .object(o)
                }
                let response = try await client.rawCall(method, p)
                let forbidden = response["error"]?["code"] == 4003
                #expect(forbidden == !allowed.contains(grant), "\(grant) \(method) \(params) → \(response)")
            }
            #expect(try await client.ping())
            await client.close()
        }
        await admin.close()
        await server.stop()
    }

    @Test func revokedTokenFailsOnItsNextRequest() async throws {
        let server = try await TestServer()
        let t = uniqueTenant()
        let admin = try await server.client(admin: true)
        let minted = try await admin.createToken(tenant: t, principal: "temp", grants: ["read"])
        let client = try await server.client(token: minted.token)
        #expect(try await client.get(try Namespace(tenant: t), key: "k") == nil)
        #expect(try await admin.listTokens(tenant: t).map(\.tokenID) == [minted.tokenID])
        try await admin.revokeToken(id: minted.tokenID)
        // The very next request on the already-open connection fails.
        await expectError(.unauthenticated) { () throws(CairnError) in try await client.get(try Namespace(tenant: t), key: "k") }
        await expectError(.unauthenticated) { () throws(CairnError) in try await client.get(try Namespace(tenant: t), key: "k") }
        #expect(try await admin.listTokens(tenant: t).isEmpty)
        // And it cannot authenticate again, on this or on another server over the same Redis.
        await expectError(.unauthenticated) { () throws(CairnError) in try await client.auth(token: minted.token) }
        let other = try await TestServer()
        await expectError(.unauthenticated) { () throws(CairnError) in
            _ = try await CairnClient.connect(port: other.port, token: minted.token)
        }
        await client.close()
        await admin.close()
        await other.stop()
        await server.stop()
    }

    @Test func tokensMintedOnOneServerWorkOnAnother() async throws {
        let one = try await TestServer()
        let two = try await TestServer()
        let t = uniqueTenant()
        let token = try await one.token(tenant: t, principal: "shared", grants: ["read", "write"])
        let client = try await two.client(token: token)
        try await client.put(try Namespace(tenant: t), key: "k", value: 1)
        #expect(try await client.get(try Namespace(tenant: t), key: "k")?.updatedBy == "shared")
        let list = try await (try await one.client(admin: true)).listTokens(tenant: t)
        #expect(list.count == 1 && list[0].principal == "shared" && list[0].grants == ["read", "write"])
        await client.close()
        await one.stop()
        await two.stop()
    }

    @Test func unauthenticatedRequestsAreRefused() async throws {
        let server = try await TestServer()
        let client = try await server.client()
        #expect(try await client.ping())  // ping needs no token
        for (method, params) in everyTenantMethod(uniqueTenant()) {
            let response = try await client.rawCall(method, params)
            #expect(response["error"]?["code"] == 4001, "\(method)")
        }
        await expectError(.unauthenticated) { () throws(CairnError) in try await client.auth(token: "cairn_tk_bogus_bogus") }
        await client.close()
        await server.stop()
    }

    @Test func authNoneIsLoopbackOnly() async throws {
        for host in ["0.0.0.0", "10.1.2.3", "::", "example.com"] {
            let configuration = ServerConfiguration(host: host, port: 0, auth: .none)
            #expect(throws: CairnError.self) { try configuration.validate() }
            await #expect(throws: CairnError.self) {
                _ = try await CairnServer.bind(configuration: configuration, store: TestRedis.store())
            }
        }
        for host in ["127.0.0.1", "::1", "localhost"] {
            try ServerConfiguration(host: host, auth: .none).validate()
        }
        let open = try await TestServer(auth: .none)
        let client = try await open.client()
        #expect(client.hello["auth"] == "none")
        let t = uniqueTenant()
        try await client.put(try Namespace(tenant: t), key: "k", value: 1)
        #expect(try await client.get(try Namespace(tenant: t), key: "k")?.updatedBy == "anonymous")
        await client.close()
        await open.stop()
    }

    @Test func theRecordedPrincipalIsTheTokens() async throws {
        let server = try await TestServer()
        let t = uniqueTenant()
        let ns = try Namespace(tenant: t, task: "x")
        let client = try await server.client(token: try await server.token(tenant: t, principal: "alice", grants: ["read", "write"]))
        // Params claiming another principal are not params of put: refused, nothing written.
        for claim in ["by", "principal", "updated_by"] {
            let refused = await expectError(.invalidParams) { () throws(CairnError) in
                try await client.call("put", ["ns": Wire.namespace(ns), "key": "k", "value": 0, JSONKey(claim): "mallory"])
            }
            #expect(refused?.field == claim)
        }
        #expect(try await client.get(ns, key: "k") == nil)
        _ = try await client.call("put", ["ns": Wire.namespace(ns), "key": "k", "value": 1, "agent": "agent-7", "reason": "because"])
        let item = try #require(try await client.get(ns, key: "k"))
        #expect(item.updatedBy == "alice")
        #expect(item.agent == "agent-7")
        let history = try await client.history(ns, key: "k")
        #expect(history.map(\.by) == ["alice"])
        #expect(history.map(\.agent) == ["agent-7"])
        #expect(history.map(\.reason) == ["because"])
        let log = try await client.log(try Scope(tenant: t))
        #expect(log.map(\.by) == ["alice"])
        #expect(try await client.log(try Scope(tenant: t), by: "mallory").isEmpty)
        _ = try await client.call("delete", ["ns": Wire.namespace(ns), "key": "k"])
        #expect(try await client.history(ns, key: "k").first?.by == "alice")
        await client.close()
        await server.stop()
    }
}

@Suite struct RevocationAcrossServersTests {
    @Test func revocationOnOneServerReachesConnectionsOnAnother() async throws {
        let a = try await TestServer()
        let b = try await TestServer()
        let t = uniqueTenant()
        let adminA = try await a.client(admin: true)
        let minted = try await adminA.createToken(tenant: t, principal: "temp", grants: ["read"])
        let clientB = try await b.client(token: minted.token)
        for _ in 0..<3 { #expect(try await clientB.get(try Namespace(tenant: t), key: "k") == nil) }  // verified, then cached
        try await adminA.revokeToken(id: minted.tokenID)
        await eventually(5) {
            do {
                _ = try await clientB.get(try Namespace(tenant: t), key: "k")
                return false
            } catch let error as CairnError {
                return error.reason == .unauthenticated
            } catch {
                return false
            }
        }
        await adminA.close()
        await clientB.close()
        await a.stop()
        await b.stop()
    }
}
