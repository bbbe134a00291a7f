import Cairn
import CairnTestSupport
import Foundation
import Testing

@Suite struct ScopeCommandTests {
    @Test func searchByFilterAndQuery() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            let items: [(key: String, task: String?, value: String)] = [
                ("bug-1", "t1", #"{"status":"open","score":9,"title":"crash on startup"}"#),
                ("bug-2", "t1", #"{"status":"closed","score":10,"title":"slow startup"}"#),
                ("bug-3", "t2", #"{"status":"open","score":2,"title":"typo in the manual"}"#),
                ("note", nil, #"{"status":"open","title":"remember the startup crash"}"#),
            ]
            for item in items {
                let task = item.task.map { ["--task", $0] } ?? []
                #expect(try await f.run(["put", item.key, item.value] + task).status == 0)
            }

            let open = try await f.run(["search", "--filter", #"{"status":"open"}"#, "--json"])
            #expect(open.status == 0, "\(open)")
            #expect(Set(open.json?.keys(in: "items") ?? []) == ["bug-1", "bug-3", "note"], "\(open)")
            let scope: JSONValue = ["tenant": .string(f.tenant)]
            #expect(open.json == (try await f.call("search", ["scope": scope, "filter": ["status": "open"]])))

            let high = try await f.run(["search", "--filter", #"{"score":{"$gte":9}}"#, "--task", "t1", "--json"])
            #expect(Set(high.json?.keys(in: "items") ?? []) == ["bug-1", "bug-2"], "\(high)")

            let crash = try await f.run(["search", "--query", "startup crash", "--json"])
            #expect(crash.status == 0, "\(crash)")
            let found = crash.json?["items"]?.arrayValue ?? []
            let foundKeys = Set(found.compactMap { $0["key"]?.stringValue })
            #expect(foundKeys.isSuperset(of: ["bug-1", "note"]), "\(crash)")
            #expect(!found.contains { $0["key"] == "bug-3" }, "no word of the query in bug-3")
            #expect(found.allSatisfy { ($0["score"]?.numberValue ?? 0) > 0 })

            let both = try await f.run(["search", "--filter", #"{"status":"open"}"#, "--query", "startup", "--no-task", "--json"])
            #expect(both.json?.keys(in: "items") == ["note"], "\(both)")

            let page = try await f.run(["search", "--limit", "2", "--json"])
            let rest = try await f.run(["search", "--limit", "2", "--offset", "2", "--json"])
            let all = (page.json?.keys(in: "items") ?? []) + (rest.json?.keys(in: "items") ?? [])
            #expect(Set(all) == Set(items.map(\.key)) && all.count == items.count, "pages concatenate: \(all)")

            let human = try await f.run(["search", "--query", "startup"])
            #expect(human.status == 0)
            let header = try #require(human.stdout.split(separator: "\n").first)
            #expect(header.contains("KEY") && header.contains("SCORE") && header.contains("VALUE"), "\(human)")
            #expect(human.stdout.contains("bug-2"), "\(human)")

            let none = try await f.run(["search", "--filter", #"{"status":"nope"}"#])
            #expect(none.status == 0 && none.stdout.isEmpty, "\(none)")
        }
    }

    @Test func lsListsNamespacesOfAScope() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            let spots: [[String]] = [[], ["--task", "t1"], ["--task", "t1", "--role", "r1"], ["--role", "r2"], ["--task", "t2", "--role", "r1"]]
            for spot in spots { #expect(try await f.run(["put", "k", "1"] + spot).status == 0) }

            let all = try await f.run(["ls", "--json"])
            #expect(all.status == 0, "\(all)")
            let namespaces = try #require(all.json?["namespaces"]?.arrayValue)
            #expect(namespaces.count == spots.count, "\(all)")
            #expect(all.json == (try await f.call("list_namespaces", ["scope": ["tenant": .string(f.tenant)]])))

            func tasksRoles(_ r: CLIResult) -> [String] {
                (r.json?["namespaces"]?.arrayValue ?? []).map { "\($0["task"]?.stringValue ?? "-")/\($0["role"]?.stringValue ?? "-")" }
            }
            #expect(tasksRoles(try await f.run(["ls", "--task", "t1", "--json"])) == ["t1/-", "t1/r1"])
            #expect(tasksRoles(try await f.run(["ls", "--no-task", "--json"])) == ["-/-", "-/r2"])
            #expect(tasksRoles(try await f.run(["ls", "--role", "r1", "--json"])) == ["t1/r1", "t2/r1"])
            #expect(tasksRoles(try await f.run(["ls", "--no-task", "--no-role", "--json"])) == ["-/-"])
            #expect(tasksRoles(try await f.run(["ls", "--limit", "2", "--offset", "1", "--json"])).count == 2)

            let human = try await f.run(["ls", "--task", "t2"])
            let lines = human.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
            #expect(lines == [["TENANT", "TASK", "ROLE"], [Substring(f.tenant), "t2", "r1"]], "\(human)")
        }
    }

    @Test func logShowsWhoWroteWhatInOrder() async throws {
        try await withServer { server in
            let f = try await Fixture(server, principal: "alice")
            let bob = try await server.token(tenant: f.tenant, principal: "bob", grants: ["read", "write"])
            let before = Timestamp(millisecondsSince1970: Int64(Date().timeIntervalSince1970 * 1000) - 60_000)
            #expect(try await f.run(["put", "a", "1", "--reason", "start"]).status == 0)
            #expect(try await f.run(["put", "b", "1", "--task", "t1"], token: bob).status == 0)
            #expect(try await f.run(["put", "a", "2"], token: bob).status == 0)
            #expect(try await f.run(["delete", "a", "--reason", "cleanup"]).status == 0)

            let log = try await f.run(["log", "--json"])
            #expect(log.status == 0, "\(log)")
            #expect(log.json == (try await f.call("log", ["scope": ["tenant": .string(f.tenant)]])))
            let entries = try #require(log.json?["entries"]?.arrayValue)
            #expect(entries.map { "\($0["op"]?.stringValue ?? "?") \($0["key"]?.stringValue ?? "?") \($0["by"]?.stringValue ?? "?")" }
                == ["put a alice", "put b bob", "put a bob", "delete a alice"])
            #expect(entries.first?["reason"] == "start")

            let byBob = try await f.run(["log", "--by", "bob", "--json"])
            #expect(byBob.json?["entries"]?.arrayValue?.count == 2, "\(byBob)")
            let t1 = try await f.run(["log", "--task", "t1", "--json"])
            #expect(t1.json?.keys(in: "entries") == ["b"], "\(t1)")

            let first = try await f.run(["log", "--limit", "1", "--json"])
            let cursor = try #require(first.json?["entries"]?.arrayValue?.first?["cursor"]?.stringValue, "\(first)")
            let next = try await f.run(["log", "--after", cursor, "--limit", "2", "--json"])
            #expect(next.json?["entries"]?.arrayValue?.compactMap { $0["cursor"] } == entries[1...2].compactMap { $0["cursor"] }, "\(next)")

            let since = try await f.run(["log", "--since", before.rfc3339, "--json"])
            #expect(since.json?["entries"]?.arrayValue?.count == 4)
            let future = Timestamp(millisecondsSince1970: before.millisecondsSince1970 + 3_600_000)
            let later = try await f.run(["log", "--since", future.rfc3339, "--json"])
            #expect(later.json?["entries"]?.arrayValue?.isEmpty == true, "\(later)")
            let until = try await f.run(["log", "--until", before.rfc3339, "--json"])
            #expect(until.json?["entries"]?.arrayValue?.isEmpty == true, "\(until)")

            let human = try await f.run(["log", "--limit", "2"])
            #expect(human.status == 0)
            #expect(human.stdout.split(separator: "\n").count == 3, "\(human)")
            #expect(human.stderr.contains("--after "), "a full page says how to go on: \(human)")
        }
    }
}
