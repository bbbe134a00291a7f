import Cairn
import CairnClient
import CairnProtocol
import CairnServer
import CairnTestSupport
import Foundation
import Testing

/// A token narrowed to a task and/or role, even with `admin`, lists and revokes only the
/// tokens inside its own scope, and the others look like tokens that do not exist.
@Suite struct TokenScopeTests {
    struct Minted {
        var name: String
        var task: String?
        var role: String?
        var token: String
        var id: String
    }

    @Test func narrowedAdminsListAndRevokeOnlyInsideTheirScope() async throws {
        let server = try await TestServer()
        let t = uniqueTenant()
        let admin = try await server.client(admin: true)
        var minted: [Minted] = []
        for (name, task, role) in [
            ("owner", nil, nil), ("t1", "t1", nil), ("t1r", "t1", "r"), ("t1r2", "t1", "r2"), ("t2", "t2", nil), ("r", nil, "r"),
            ("t2r", "t2", "r"),
        ] as [(String, String?, String?)] {
            let made = try await admin.createToken(tenant: t, principal: name, grants: ["read", "admin"], task: task, role: role)
            minted.append(Minted(name: name, task: task, role: role, token: made.token, id: made.tokenID))
        }
        func inside(_ caller: Minted, _ other: Minted) -> Bool {
            (caller.task == nil || caller.task == other.task) && (caller.role == nil || caller.role == other.role)
        }
        let missingID = "tk_0000000000000000"
        for caller in minted {
            let client = try await server.client(token: caller.token)
            let listed = Set(try await client.listTokens(tenant: t).map(\.principal))
            #expect(listed == Set(minted.filter { inside(caller, $0) }.map(\.name)), "\(caller.name) lists \(listed)")
            // Revoking a token outside: the very answer a token id that does not exist gets.
            let missing = try await client.rawCall("token.revoke", ["token_id": .string(missingID)])["error"]
            for other in minted where !inside(caller, other) {
                let answer = try await client.rawCall("token.revoke", ["token_id": .string(other.id)])["error"]
                #expect(answer?["code"] == 4004, "\(caller.name) revoking \(other.name)")
                #expect(answer?["message"]?.stringValue?.replacingOccurrences(of: other.id, with: "X")
                    == missing?["message"]?.stringValue?.replacingOccurrences(of: missingID, with: "X"))
                #expect(answer?["data"] == missing?["data"])
            }
            await client.close()
        }
        // Nothing was revoked: every token still authenticates.
        for m in minted {
            let c = try await server.client(token: m.token)
            #expect(try await c.ping())
            await c.close()
        }
        // Inside its scope a narrowed admin does revoke.
        let t1 = try await server.client(token: minted[1].token)
        try await t1.revokeToken(id: minted[2].id)
        #expect(Set(try await admin.listTokens(tenant: t).map(\.principal)) == Set(minted.map(\.name)).subtracting(["t1r"]))
        await t1.close()
        await admin.close()
        await server.stop()
    }

    @Test func narrowedAdminsMintOnlyInsideTheirScope() async throws {
        let server = try await TestServer()
        let t = uniqueTenant()
        let narrowed = try await server.client(token: try await server.token(tenant: t, grants: ["admin"], task: "t1"))
        await expectError(.forbidden) { () throws(CairnError) in
            _ = try await narrowed.createToken(tenant: t, principal: "wider", grants: ["read"], task: "t2")
        }
        // Asking for no task gets the minter's own.
        let made = try await narrowed.createToken(tenant: t, principal: "same", grants: ["read"], role: "r")
        let info = try await (try await server.client()).auth(token: made.token)
        #expect(info.task == "t1" && info.role == "r")
        await narrowed.close()
        await server.stop()
    }
}
