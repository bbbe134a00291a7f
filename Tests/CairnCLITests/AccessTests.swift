import Cairn
import CairnRedis
import CairnServer
import CairnTestSupport
import Foundation
import Testing

@Suite struct AccessTests {
    @Test func missingOrForbiddenTokensExit6() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            #expect(try await f.run(["put", "k", "1"]).status == 0)

            let none = try await f.run(["get", "k"], useToken: false)
            #expect(none.status == 6, "\(none)")
            #expect(none.stderr.hasPrefix("cairn: unauthenticated: "), "\(none)")

            let bogus = try await f.run(["get", "k"], token: "not-a-token")
            #expect(bogus.status == 6, "\(bogus)")

            let otherTenant = try await f.run(["get", "k"], tenant: uniqueTenant("other"))
            #expect(otherTenant.status == 6, "\(otherTenant)")
            #expect(otherTenant.stderr.hasPrefix("cairn: forbidden: "), "\(otherTenant)")

            let reader = try await server.token(tenant: f.tenant, grants: ["read"])
            #expect(try await f.run(["get", "k"], token: reader).status == 0)
            let write = try await f.run(["put", "k", "2"], token: reader)
            #expect(write.status == 6, "\(write)")

            // Token commands need admin.
            let list = try await f.run(["token", "list"])
            #expect(list.status == 6, "\(list)")
        }
    }

    @Test func tokenCreateListRevokeRoundTrip() async throws {
        try await withServer { server in
            let tenant = uniqueTenant("tok")
            func admin(_ args: [String]) async throws -> CLIResult {
                try await CLI.run(args + ["--url", server.url], token: server.adminToken)
            }
            let created = try await admin(["token", "create", "--tenant", tenant, "--principal", "worker-1", "--grants", "read,write", "--task", "t1", "--json"])
            #expect(created.status == 0, "\(created)")
            let secret = try #require(created.json?["token"]?.stringValue, "\(created)")
            let id = try #require(created.json?["token_id"]?.stringValue)

            // The new token works, within its task, and writes as its principal.
            let put = try await CLI.run(["put", "k", "1", "--url", server.url, "--tenant", tenant, "--task", "t1"], token: secret)
            #expect(put.status == 0, "\(put)")
            let get = try await CLI.run(["get", "k", "--url", server.url, "--tenant", tenant, "--task", "t1", "--json"], token: secret)
            #expect(get.json?["updated_by"] == "worker-1", "\(get)")
            let outside = try await CLI.run(["put", "k", "1", "--url", server.url, "--tenant", tenant], token: secret)
            #expect(outside.status == 6, "the token is limited to task t1: \(outside)")

            let list = try await admin(["token", "list", "--tenant", tenant, "--json"])
            #expect(list.status == 0, "\(list)")
            let tokens = try #require(list.json?["tokens"]?.arrayValue)
            #expect(tokens.count == 1)
            #expect(tokens.first?["token_id"]?.stringValue == id)
            #expect(tokens.first?["principal"] == "worker-1")
            #expect(tokens.first?["grants"] == ["read", "write"])
            #expect(!list.stdout.contains(secret), "never the secret")

            let human = try await admin(["token", "list", "--tenant", tenant])
            #expect(human.stdout.contains(id) && human.stdout.contains("task=t1") && human.stdout.contains("read,write"), "\(human)")

            // Human create prints the secret and the id.
            let second = try await admin(["token", "create", "--tenant", tenant, "--principal", "p2", "--grants", "read"])
            #expect(second.status == 0, "\(second)")
            let fields = Dictionary(
                uniqueKeysWithValues: second.stdout.split(separator: "\n").map { line in
                    let parts = line.split(separator: " ", omittingEmptySubsequences: true)
                    return (String(parts[0]), String(parts.last!))
                })
            let secondSecret = try #require(fields["token"], "\(second)")
            #expect(fields["token_id"] != nil)
            #expect(try await CLI.run(["ping", "--url", server.url], token: secondSecret).status == 0)

            let revoke = try await admin(["token", "revoke", id])
            #expect(revoke.status == 0, "\(revoke)")
            let revoked = try await CLI.run(["get", "k", "--url", server.url, "--tenant", tenant, "--task", "t1"], token: secret)
            #expect(revoked.status == 6, "\(revoked)")
            #expect(revoked.stderr.hasPrefix("cairn: unauthenticated: "), "\(revoked)")
            let after = try await admin(["token", "list", "--tenant", tenant, "--json"])
            #expect(!(after.json?["tokens"]?.arrayValue ?? []).contains { $0["token_id"]?.stringValue == id }, "\(after)")

            let again = try await admin(["token", "revoke", id])
            #expect(again.status == 3, "an unknown token id is not found: \(again)")
        }
    }

    @Test func tokenFileAndEnvironment() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-token-\(UUID().uuidString)")
            try Data((f.token + "\n").utf8).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }

            let put = try await CLI.run(
                ["put", "k", "1", "--token-file", file.path], environment: ["CAIRN_URL": server.url, "CAIRN_TENANT": f.tenant])
            #expect(put.status == 0, "\(put)")
            let get = try await CLI.run(["get", "k", "--json"], token: f.token, environment: ["CAIRN_URL": server.url, "CAIRN_TENANT": f.tenant])
            #expect(get.json?["value"] == 1, "\(get)")
            // The file wins over the environment.
            let wins = try await CLI.run(
                ["get", "k", "--token-file", file.path], token: "wrong", environment: ["CAIRN_URL": server.url, "CAIRN_TENANT": f.tenant])
            #expect(wins.status == 0, "\(wins)")

            let missing = try await CLI.run(["get", "k", "--token-file", file.path + ".nope", "--url", server.url, "--tenant", f.tenant])
            #expect(missing.status == 64, "\(missing)")

            let ping = try await CLI.run(["ping", "--url", server.url], token: f.token)
            #expect(ping.status == 0, "\(ping)")
            #expect(ping.stdout.contains("pong") && ping.stdout.contains("cli-user"), "\(ping)")
            let pingJSON = try await CLI.run(["ping", "--url", server.url, "--json"])
            #expect(pingJSON.json == ["pong": true], "\(pingJSON)")
        }
    }

    @Test func unreachableServerExits5() async throws {
        // A port held bound but not listening: refused for certain, and no other server can take it.
        try await withRefusingPort { port in
            let url = "cairn://127.0.0.1:\(port)"
            let result = try await CLI.run(["ping", "--url", url])
            #expect(result.status == 5, "\(result)")
            #expect(result.stderr.hasPrefix("cairn: connection_failed: "), "\(result)")
            let get = try await CLI.run(["get", "k", "--url", url, "--tenant", "t"], token: "whatever")
            #expect(get.status == 5, "\(get)")
        }
    }

    @Test func unavailableRedisExits5() async throws {
        // A Redis port nobody listens on, held so that no other test's redis-server takes it.
        try await withRefusingPort { deadPort in
            var configuration = try RedisConfiguration(url: "redis://127.0.0.1:\(deadPort)", poolSize: 1)
            configuration.connectTimeoutMilliseconds = 500
            let pool = RedisPool(configuration: configuration)
            let server = try await TestServer(pool: pool)
            let result = try await CLI.run(["get", "k", "--url", server.url, "--tenant", uniqueTenant()], token: server.adminToken)
            #expect(result.status == 5, "\(result)")
            #expect(result.stderr.hasPrefix("cairn: unavailable: "), "\(result)")
            await server.stop()
            await pool.shutdown()
        }
    }
}
