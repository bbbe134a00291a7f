import Cairn
import CairnClient
import CairnTestSupport
import Foundation
import Testing

@Suite struct ItemCommandTests {
    @Test func putThenGetRoundTripsValues() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            let cases: [(key: String, put: [String], stdin: String?, expected: JSONValue)] = [
                ("object", [#"{"status":"open","n":[1,2.5,true,null],"meta":{"owner":"bob"}}"#], nil,
                 ["status": "open", "n": [1, 2.5, true, .null], "meta": ["owner": "bob"]]),
                ("text", ["plain words, not JSON", "--string"], nil, "plain words, not JSON"),
                ("number", ["42"], nil, 42),
                ("negative", ["--", "-7.25"], nil, -7.25),
                ("from-stdin", [], #"  {"from":"stdin","list":[1,2,3]}  "#, ["from": "stdin", "list": [1, 2, 3]]),
                ("text-stdin", ["--string"], "two\nlines\n", "two\nlines"),
                ("ünïcødé 🔑", [#"{"greeting":"héllo wörld ✓ 日本語 🎉"}"#], nil, ["greeting": "héllo wörld ✓ 日本語 🎉"]),
            ]
            for c in cases {
                let put = try await f.run(["put", c.key] + c.put, stdin: c.stdin)
                #expect(put.status == 0, "\(c.key): \(put)")
                #expect(put.stdout.contains("version 1"), "\(put)")

                let get = try await f.run(["get", c.key, "--json"])
                #expect(get.status == 0, "\(c.key): \(get)")
                #expect(get.json?["value"] == c.expected, "\(c.key): \(get)")
                #expect(get.json?["key"]?.stringValue == c.key)
                #expect(get.json?["version"]?.intValue == 1)
                // What the server stored, read back with the Swift client.
                let stored = try await f.call("get", ["ns": f.ns, "key": .string(c.key)])
                #expect(stored["value"] == c.expected, "\(c.key)")
            }

            // Human output: the value pretty-printed, then a line with version and author.
            let human = try await f.run(["get", "object"])
            #expect(human.status == 0)
            #expect(human.stdout.contains("\n  \"status\": \"open\",\n"), "\(human)")
            #expect(human.stdout.contains("version 1"), "\(human)")
            #expect(human.stdout.contains("updated_by cli-user"), "\(human)")
            let raw = try await f.run(["get", "text", "--raw"])
            #expect(raw.stdout == "plain words, not JSON\n", "\(raw)")
        }
    }

    @Test func jsonOutputIsTheServersItem() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            let put = try await f.run(["put", "doc", #"{"a":1,"b":["x"]}"#, "--json", "--reason", "first draft", "--agent", "writer-1"])
            #expect(put.status == 0, "\(put)")
            let putResult = try #require(put.json, "\(put)")
            #expect(putResult["version"]?.intValue == 1)
            #expect(putResult["created_at"]?.stringValue != nil)

            let get = try await f.run(["get", "doc", "--json"])
            #expect(get.status == 0, "\(get)")
            let fromServer = try await f.call("get", ["ns": f.ns, "key": "doc"])
            #expect(get.json == fromServer, "\(get)")
            #expect(fromServer["agent"]?.stringValue == "writer-1")
            #expect(get.stdout.split(separator: "\n").count == 1, "one JSON value, one line")

            // The same for a scoped namespace and a past version.
            #expect(try await f.run(["put", "doc", "2", "--task", "t-1", "--role", "r"]).status == 0)
            #expect(try await f.run(["put", "doc", "3", "--task", "t-1", "--role", "r"]).status == 0)
            let old = try await f.run(["get", "doc", "--task", "t-1", "--role", "r", "--version", "1", "--json"])
            let ns: JSONValue = ["tenant": .string(f.tenant), "task": "t-1", "role": "r"]
            #expect(old.json == (try await f.call("get", ["ns": ns, "key": "doc", "version": 1])), "\(old)")
            #expect(old.json?["value"] == 2)
        }
    }

    @Test func getOfAnAbsentKeyExits3() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            let human = try await f.run(["get", "missing"])
            #expect(human.status == 3, "\(human)")
            #expect(human.stdout.isEmpty)
            #expect(human.stderr.hasPrefix("cairn: not_found: "), "\(human)")

            let json = try await f.run(["get", "missing", "--json"])
            #expect(json.status == 3, "\(json)")
            #expect(json.json == .null, "\(json)")

            // Present in another namespace only: still absent here.
            #expect(try await f.run(["put", "k", "1", "--task", "other"]).status == 0)
            #expect(try await f.run(["get", "k"]).status == 3)
            #expect(try await f.run(["get", "k", "--task", "other"]).status == 0)
        }
    }

    @Test func versionMismatchExits4WithTheCurrentVersion() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            #expect(try await f.run(["put", "k", "1"]).status == 0)
            #expect(try await f.run(["put", "k", "2"]).status == 0)

            let stale = try await f.run(["put", "k", "99", "--if-version", "1"])
            #expect(stale.status == 4, "\(stale)")
            #expect(stale.stderr.hasPrefix("cairn: version_conflict: "), "\(stale)")
            #expect(stale.stderr.contains("current_version: 2"), "\(stale)")
            #expect((try await f.call("get", ["ns": f.ns, "key": "k"]))["value"] == 2, "nothing written")

            let create = try await f.run(["put", "k", "99", "--if-version", "0"])
            #expect(create.status == 4, "\(create)")

            let fresh = try await f.run(["put", "k", "3", "--if-version", "2", "--json"])
            #expect(fresh.status == 0, "\(fresh)")
            #expect(fresh.json?["version"] == 3)

            let delete = try await f.run(["delete", "k", "--if-version", "2"])
            #expect(delete.status == 4, "\(delete)")
            #expect(delete.stderr.contains("current_version: 3"), "\(delete)")
        }
    }

    @Test func deleteRemovesAndIsQuietAboutAbsentKeys() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            #expect(try await f.run(["put", "k", #""v""#]).status == 0)
            let delete = try await f.run(["delete", "k", "--reason", "done", "--json"])
            #expect(delete.status == 0, "\(delete)")
            #expect(delete.json == ["version": 2, "existed": true])
            #expect(try await f.run(["get", "k"]).status == 3)

            let again = try await f.run(["delete", "k"])
            #expect(again.status == 0, "\(again)")
            #expect(again.stdout.contains("nothing deleted"), "\(again)")
        }
    }

    @Test func badJSONArgumentsAreUsageErrors() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            for bad in [["put", "k", "not json"], ["put", "k", "{\"a\":"], ["put", "k", "null"]] {
                let result = try await f.run(bad)
                #expect(result.status == 64, "\(bad): \(result)")
                #expect(result.stderr.contains("Error: "), "\(result)")
            }
            let stdin = try await f.run(["put", "k"], stdin: "{oops}")
            #expect(stdin.status == 64, "\(stdin)")
            let empty = try await f.run(["put", "k"], stdin: "")
            #expect(empty.status == 64, "\(empty)")
            #expect(try await f.run(["get", "k"]).status == 3, "nothing was written")

            #expect(try await f.run(["search", "--filter", "{status: open}"]).status == 64)
            #expect(try await f.run(["search", "--filter", "[1]"]).status == 64)
            #expect(try await f.run(["log", "--since", "yesterday"]).status == 64)
            #expect(try await f.run(["search", "--task", "a", "--no-task"]).status == 64)
            #expect(try await f.run(["search", "--limit", "0"]).status == 64)
            #expect(try await f.run(["get", "bad\u{1}key"]).status == 64)
            let noTenant = try await CLI.run(["get", "k", "--url", server.url], token: f.token)
            #expect(noTenant.status == 64, "\(noTenant)")
            #expect(noTenant.stderr.contains("--tenant"), "\(noTenant)")
        }
    }

    @Test func historyListsVersionsNewestFirst() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            for (i, reason) in ["create", "fix typo", "rewrite"].enumerated() {
                #expect(try await f.run(["put", "doc", #"{"rev":\#(i + 1)}"#, "--reason", reason, "--agent", "a\(i)"]).status == 0)
            }
            let json = try await f.run(["history", "doc", "--json"])
            #expect(json.status == 0, "\(json)")
            #expect(json.json == (try await f.call("history", ["ns": f.ns, "key": "doc"])))
            let entries = try #require(json.json?["entries"]?.arrayValue)
            #expect(entries.compactMap { $0["version"]?.intValue } == [3, 2, 1])
            #expect(entries.compactMap { $0["reason"]?.stringValue } == ["rewrite", "fix typo", "create"])

            let page = try await f.run(["history", "doc", "--limit", "1", "--before-version", "3", "--json"])
            #expect(page.json?["entries"]?.arrayValue?.compactMap { $0["version"]?.intValue } == [2], "\(page)")

            let human = try await f.run(["history", "doc"])
            #expect(human.status == 0)
            let lines = human.stdout.split(separator: "\n")
            #expect(lines.count == 4, "\(human)")
            #expect(lines.first?.hasPrefix("VERSION") == true)
            #expect(lines[1].hasPrefix("3 ") && lines[1].contains("rewrite") && lines[1].contains(#"{"rev":3}"#), "\(human)")
        }
    }
}
