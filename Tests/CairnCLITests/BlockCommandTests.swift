import Cairn
import CairnTestSupport
import Foundation
import Testing

@Suite struct BlockCommandTests {
    /// The block as the server has it, through the Swift client.
    func stored(_ f: Fixture, _ label: String, ns: JSONValue? = nil) async throws -> JSONValue {
        try await f.call("block.get", ["ns": ns ?? f.ns, "label": .string(label)])
    }

    @Test func createThenGetRoundTripsText() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            let label = "nötes 📝"
            let text = "héllo wörld ✓\n日本語 🎉\n  indented"
            let create = try await f.run([
                "block", "create", label, text, "--description", "team nötes", "--limit", "100",
                "--metadata", #"{"owner":"bob"}"#, "--reason", "start",
            ])
            #expect(create.status == 0, "\(create)")
            #expect(create.stdout == "created block \(label.debugDescription) at version 1\n", "\(create)")

            let block = try await stored(f, label)
            #expect(block["value"]?.stringValue == text)
            #expect(block["description"] == "team nötes")
            #expect(block["limit"] == 100)
            #expect(block["read_only"] == false)
            #expect(block["metadata"] == ["owner": "bob"])

            let json = try await f.run(["block", "get", label, "--json"])
            #expect(json.status == 0, "\(json)")
            #expect(json.json == block, "\(json)")

            // Human: the text as is, then a line of facts about it.
            let human = try await f.run(["block", "get", label])
            #expect(human.status == 0, "\(human)")
            let chars = text.unicodeScalars.count
            #expect(human.stdout.hasPrefix(text + "\n-- version 1, \(chars)/100 chars, writable, updated_by cli-user"), "\(human)")
            #expect(human.stdout.hasSuffix("\n-- description: team nötes\n"), "\(human)")
            let raw = try await f.run(["block", "get", label, "--raw"])
            #expect(raw.stdout == text + "\n", "\(raw)")

            // From stdin (one trailing newline dropped); without a value, empty.
            let piped = try await f.run(["block", "create", "piped", "--from-stdin"], stdin: "line 1\nline 2\n")
            #expect(piped.status == 0, "\(piped)")
            #expect(try await stored(f, "piped")["value"] == "line 1\nline 2")
            #expect(try await f.run(["block", "create", "empty"]).status == 0)
            #expect(try await stored(f, "empty")["value"] == "")
            #expect(try await stored(f, "empty")["limit"] == 5000)

            // A past version.
            #expect(try await f.run(["block", "rethink", "piped", "v2"]).status == 0)
            let old = try await f.run(["block", "get", "piped", "--version", "1", "--raw"])
            #expect(old.stdout == "line 1\nline 2\n", "\(old)")

            // Absent: 3. Existing: 4.
            let absent = try await f.run(["block", "get", "nope"])
            #expect(absent.status == 3, "\(absent)")
            #expect(absent.stderr.hasPrefix("cairn: not_found: "), "\(absent)")
            let again = try await f.run(["block", "create", label, "other"])
            #expect(again.status == 4, "\(again)")
            #expect(try await stored(f, label)["value"]?.stringValue == text, "nothing written")

            // Usage errors.
            #expect(try await f.run(["block", "create", "x", "v", "--from-stdin"]).status == 64)
            #expect(try await f.run(["block", "create", "x", "--metadata", "{nope"]).status == 64)
            #expect(try await f.run(["block", "create", "x", "--limit", "0"]).status == 64)
            #expect(try await f.run(["block", "get", "bad\u{1}label"]).status == 64)
        }
    }

    @Test func insertAtPositions() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            #expect(try await f.run(["block", "create", "b", "a\nb"]).status == 0)

            let middle = try await f.run(["block", "insert", "b", "X", "--line", "1", "--reason", "why", "--agent", "w-1"])
            #expect(middle.status == 0, "\(middle)")
            #expect(middle.stdout == "inserted into \"b\" at version 2\n", "\(middle)")
            #expect(try await stored(f, "b")["value"] == "a\nX\nb")
            #expect(try await stored(f, "b")["agent"] == "w-1")

            let top = try await f.run(["block", "insert", "b", "T", "--line", "0", "--json"])
            #expect(top.json == ["version": 3, "value": "T\na\nX\nb"], "\(top)")
            let end = try await f.run(["block", "insert", "b", "E", "--line", "-1", "--json"])
            #expect(end.json?["value"] == "T\na\nX\nb\nE", "\(end)")
            // Text starting with '-' after `--`; the default position is the end.
            let bullet = try await f.run(["block", "insert", "b", "--", "- bullet"])
            #expect(bullet.status == 0, "\(bullet)")
            let piped = try await f.run(["block", "insert", "b", "--from-stdin", "--line", "0"], stdin: "from stdin\n")
            #expect(piped.status == 0, "\(piped)")
            #expect(try await stored(f, "b")["value"] == "from stdin\nT\na\nX\nb\nE\n- bullet")

            // Into an empty block, exactly the text.
            #expect(try await f.run(["block", "create", "e"]).status == 0)
            #expect(try await f.run(["block", "insert", "e", "only"]).status == 0)
            #expect(try await stored(f, "e")["value"] == "only")

            // Before `--`, such text would be read as options (its 'h' as --help): a usage error.
            let dashed = try await f.run(["block", "insert", "b", "- the help trap"])
            #expect(dashed.status == 64, "\(dashed)")
            #expect(dashed.stderr.contains("after `--`"), "\(dashed)")
            let dashedReason = try await f.run(["block", "insert", "b", "ok", "--reason=- an odd reason"])
            #expect(dashedReason.status == 0, "--option=VALUE takes any text: \(dashedReason)")
            #expect(try await stored(f, "b")["value"] == "from stdin\nT\na\nX\nb\nE\n- bullet\nok")

            let outOfRange = try await f.run(["block", "insert", "b", "Z", "--line", "99"])
            #expect(outOfRange.status == 1, "\(outOfRange)")
            #expect(outOfRange.stderr.hasPrefix("cairn: invalid_line: "), "\(outOfRange)")
            #expect(try await f.run(["block", "insert", "b", "Z", "--line", "-2"]).status == 64)
            #expect(try await f.run(["block", "insert", "b"]).status == 64, "TEXT or --from-stdin")
            #expect(try await f.run(["block", "insert", "absent", "Z"]).status == 3)
        }
    }

    @Test func replaceNeedsExactlyOneMatch() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            #expect(try await f.run(["block", "create", "r", "todo: a\ndone: b\ntodo: c"]).status == 0)

            let none = try await f.run(["block", "replace", "r", "missing", "x"])
            #expect(none.status == 1, "\(none)")
            #expect(none.stderr.hasPrefix("cairn: no_match: "), "\(none)")

            let many = try await f.run(["block", "replace", "r", "todo", "x"])
            #expect(many.status == 1, "\(many)")
            #expect(many.stderr.hasPrefix("cairn: ambiguous_match: "), "\(many)")
            #expect(many.stderr.contains("lines: [1,3]"), "\(many)")
            #expect(try await stored(f, "r")["version"] == 1, "nothing written")

            let one = try await f.run(["block", "replace", "r", "todo: c", "done: c", "--reason", "finished"])
            #expect(one.status == 0, "\(one)")
            #expect(one.stdout == "replaced in \"r\" at version 2\n", "\(one)")
            let delete = try await f.run(["block", "replace", "r", "\ndone: b", "", "--json"])
            #expect(delete.json == ["version": 3, "value": "todo: a\ndone: c"], "\(delete)")

            let empty = try await f.run(["block", "replace", "r", "", "x"])
            #expect(empty.status == 64, "\(empty)")
        }
    }

    @Test func editsPastTheLimitAreRefused() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            #expect(try await f.run(["block", "create", "small", "12345", "--limit", "10"]).status == 0)

            let insert = try await f.run(["block", "insert", "small", "678901"])
            #expect(insert.status == 1, "\(insert)")
            #expect(insert.stderr.hasPrefix("cairn: limit_exceeded: "), "\(insert)")
            #expect(insert.stderr.contains("limit: 10, requested: 12"), "\(insert)")

            let rethink = try await f.run(["block", "rethink", "small", "ünïcødé 🎉🎉🎉"])
            #expect(rethink.status == 1, "11 code points: \(rethink)")
            #expect(rethink.stderr.contains("requested: 11"), "\(rethink)")
            #expect(try await f.run(["block", "rethink", "small", "ünïcødé 🎉"]).status == 0, "10 code points fit")

            let create = try await f.run(["block", "create", "big", "too long", "--limit", "3"])
            #expect(create.status == 1, "\(create)")
            #expect(create.stderr.hasPrefix("cairn: limit_exceeded: "), "\(create)")
        }
    }

    @Test func readOnlyBlocksNeedAdmin() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            let admin = try await server.token(tenant: f.tenant, principal: "boss", grants: ["read", "write", "admin"])
            #expect(try await f.run(["block", "create", "rules", "be kind", "--read-only"]).status == 0)
            #expect(try await stored(f, "rules")["read_only"] == true)

            for edit in [
                ["block", "insert", "rules", "x"], ["block", "replace", "rules", "kind", "nice"],
                ["block", "rethink", "rules", "x"], ["block", "update", "rules", "--value", "x"],
            ] {
                let refused = try await f.run(edit)
                #expect(refused.status == 1, "\(edit): \(refused)")
                #expect(refused.stderr.hasPrefix("cairn: read_only: "), "\(edit): \(refused)")
            }
            let human = try await f.run(["block", "get", "rules"])
            #expect(human.stdout.contains(", read-only, "), "\(human)")
            // Lifting read-only needs admin too.
            let lift = try await f.run(["block", "update", "rules", "--read-only", "false"])
            #expect(lift.status == 1, "\(lift)")
            #expect(lift.stderr.hasPrefix("cairn: read_only: "), "\(lift)")
            // Changing the limit or read-only of a writable block without admin: forbidden, 6.
            #expect(try await f.run(["block", "create", "open", "x"]).status == 0)
            for change in [["--limit", "9"], ["--read-only", "true"]] {
                let forbidden = try await f.run(["block", "update", "open"] + change)
                #expect(forbidden.status == 6, "\(change): \(forbidden)")
                #expect(forbidden.stderr.hasPrefix("cairn: forbidden: "), "\(change): \(forbidden)")
            }

            let byAdmin = try await f.run(["block", "insert", "rules", "be brief"], token: admin)
            #expect(byAdmin.status == 0, "\(byAdmin)")
            #expect(try await stored(f, "rules")["value"] == "be kind\nbe brief")
            #expect(try await stored(f, "rules")["updated_by"] == "boss")

            #expect(try await f.run(["block", "update", "rules", "--read-only", "false", "--limit", "50"], token: admin).status == 0)
            #expect(try await f.run(["block", "insert", "rules", "be quick"]).status == 0)
            let block = try await stored(f, "rules")
            #expect(block["read_only"] == false && block["limit"] == 50)
            #expect(try await f.run(["block", "update", "rules", "--read-only", "maybe"]).status == 64)
        }
    }

    @Test func updateRethinkAndDelete() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            #expect(try await f.run(["block", "create", "doc", "v1", "--description", "first"]).status == 0)

            let update = try await f.run([
                "block", "update", "doc", "--description", "second", "--metadata", #"{"n":2}"#, "--if-version", "1",
                "--reason", "describe", "--agent", "a-1",
            ])
            #expect(update.status == 0, "\(update)")
            #expect(update.stdout == "updated \"doc\" at version 2\n", "\(update)")
            var block = try await stored(f, "doc")
            #expect(block["description"] == "second" && block["metadata"] == ["n": 2] && block["value"] == "v1")

            let stale = try await f.run(["block", "update", "doc", "--value", "x", "--if-version", "1"])
            #expect(stale.status == 4, "\(stale)")
            #expect(stale.stderr.contains("current_version: 2"), "\(stale)")
            #expect(try await f.run(["block", "update", "doc"]).status == 64, "nothing to update")

            let rethink = try await f.run(["block", "rethink", "doc", "v3", "--if-version", "2", "--json"])
            #expect(rethink.json == ["version": 3], "\(rethink)")
            #expect(try await f.run(["block", "rethink", "doc", "v4", "--if-version", "2"]).status == 4)
            let piped = try await f.run(["block", "rethink", "doc", "--from-stdin"], stdin: "all\nnew\n")
            #expect(piped.stdout == "rewrote \"doc\" at version 4\n", "\(piped)")
            block = try await stored(f, "doc")
            #expect(block["value"] == "all\nnew")

            #expect(try await f.run(["block", "delete", "doc", "--if-version", "3"]).status == 4)
            let delete = try await f.run(["block", "delete", "doc", "--reason", "done"])
            #expect(delete.status == 0, "\(delete)")
            #expect(delete.stdout == "deleted block \"doc\" at version 5\n", "\(delete)")
            #expect(try await f.run(["block", "get", "doc"]).status == 3)
            let again = try await f.run(["block", "delete", "doc", "--json"])
            #expect(again.json?["existed"] == false, "\(again)")

            // A plain item is not a block.
            #expect(try await f.run(["put", "plain", "1"]).status == 0)
            let wrong = try await f.run(["block", "get", "plain"])
            #expect(wrong.status == 1, "\(wrong)")
            #expect(wrong.stderr.hasPrefix("cairn: wrong_kind: "), "\(wrong)")
        }
    }

    @Test func attachAgentsDetach() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            #expect(try await f.run(["block", "create", "notes", "n", "--agent", "a1", "--agent", "a2"]).status == 0)

            let agents = try await f.run(["block", "agents", "notes"])
            #expect(agents.status == 0, "\(agents)")
            #expect(Set(agents.stdout.split(separator: "\n").map(String.init)) == ["a1", "a2"], "\(agents)")

            let attach = try await f.run(["block", "attach", "notes", "a3"])
            #expect(attach.status == 0, "\(attach)")
            #expect(attach.stdout == "attached \"notes\" to a3\n", "\(attach)")
            #expect(try await f.run(["block", "attach", "notes", "a3"]).status == 0, "twice is a no-op")
            let detach = try await f.run(["block", "detach", "notes", "a1", "--json"])
            #expect(detach.json == [:], "\(detach)")

            let json = try await f.run(["block", "agents", "notes", "--json"])
            #expect(json.json == (try await f.call("block.agents", ["ns": f.ns, "label": "notes"])), "\(json)")
            #expect(Set(json.json?["agents"]?.arrayValue?.compactMap(\.stringValue) ?? []) == ["a2", "a3"], "\(json)")

            // Another block labelled "notes" (another namespace) cannot join a2: label_taken, 4.
            #expect(try await f.run(["block", "create", "notes", "other", "--task", "t2"]).status == 0)
            let taken = try await f.run(["block", "attach", "notes", "a2", "--task", "t2"])
            #expect(taken.status == 4, "\(taken)")
            #expect(taken.stderr.hasPrefix("cairn: label_taken: "), "\(taken)")
            let takenAtCreate = try await f.run(["block", "create", "notes", "x", "--role", "r", "--agent", "a3"])
            #expect(takenAtCreate.status == 4, "\(takenAtCreate)")

            // Deleting a block detaches it.
            #expect(try await f.run(["block", "delete", "notes"]).status == 0)
            #expect(try await f.run(["block", "attach", "notes", "a2", "--task", "t2"]).status == 0)
            #expect(try await f.run(["block", "agents", "nope"]).status == 3)
        }
    }

    @Test func contextRendersAttachedBlocks() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            #expect(try await f.run(["block", "create", "persona", "You are terse.", "--agent", "bot", "--description", "how to answer"]).status == 0)
            #expect(try await f.run(["block", "create", "facts", "sky: blue\nsea: wet", "--task", "t1"]).status == 0)
            #expect(try await f.run(["block", "attach", "facts", "bot", "--task", "t1"]).status == 0)
            #expect(try await f.run(["block", "create", "unrelated", "hidden text"]).status == 0)

            let human = try await f.run(["context", "bot"])
            #expect(human.status == 0, "\(human)")
            for text in ["persona", "You are terse.", "how to answer", "facts", "sky: blue\nsea: wet"] {
                #expect(human.stdout.contains(text), "\(text): \(human)")
            }
            #expect(!human.stdout.contains("unrelated") && !human.stdout.contains("hidden text"), "\(human)")

            let json = try await f.run(["context", "bot", "--json"])
            #expect(json.status == 0, "\(json)")
            let result = try #require(json.json, "\(json)")
            let reference = try await f.call("agent.context", ["tenant": .string(f.tenant), "agent": "bot"])
            #expect(result["rendered"] == reference["rendered"])
            #expect(human.stdout == (reference["rendered"]?.stringValue ?? "") + "\n")
            #expect(Set((result["blocks"]?.arrayValue ?? []).compactMap { $0["key"]?.stringValue }) == ["persona", "facts"])

            let nobody = try await f.run(["context", "nobody"])
            #expect(nobody.status == 0, "\(nobody)")
            #expect(nobody.stdout.contains("(no blocks attached)"), "\(nobody)")

            let noTenant = try await CLI.run(["context", "bot", "--url", server.url], token: f.token)
            #expect(noTenant.status == 64, "\(noTenant)")
            #expect(noTenant.stderr.contains("--tenant"), "\(noTenant)")
        }
    }

    @Test func lsListsBlocksByLabel() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            for (label, task) in [("Project-Notes", nil), ("notes-archive", "t1"), ("persona", nil), ("plan", "t1")] as [(String, String?)] {
                let args = ["block", "create", label, "text of \(label)"] + (task.map { ["--task", $0] } ?? [])
                #expect(try await f.run(args).status == 0)
            }
            #expect(try await f.run(["put", "notes-item", #""not a block""#]).status == 0)

            let notes = try await f.run(["block", "ls", "--label-search", "NOTES", "--json"])
            #expect(notes.status == 0, "\(notes)")
            #expect(Set(notes.json?.keys(in: "blocks") ?? []) == ["Project-Notes", "notes-archive"], "\(notes)")
            let scope: JSONValue = ["tenant": .string(f.tenant)]
            #expect(notes.json == (try await f.call("block.list", ["scope": scope, "label_search": "NOTES"])))

            let t1 = try await f.run(["block", "ls", "--task", "t1", "--json"])
            #expect(Set(t1.json?.keys(in: "blocks") ?? []) == ["notes-archive", "plan"], "\(t1)")
            let noTask = try await f.run(["block", "ls", "--no-task", "--label-search", "notes", "--json"])
            #expect(noTask.json?.keys(in: "blocks") == ["Project-Notes"], "\(noTask)")

            let page = try await f.run(["block", "ls", "--limit", "2", "--json"])
            let rest = try await f.run(["block", "ls", "--limit", "2", "--offset", "2", "--json"])
            let all = (page.json?.keys(in: "blocks") ?? []) + (rest.json?.keys(in: "blocks") ?? [])
            #expect(Set(all) == ["Project-Notes", "notes-archive", "persona", "plan"] && all.count == 4, "\(all)")
            #expect(page.stderr.isEmpty, "no note with --json on stdout: \(page)")

            let human = try await f.run(["block", "ls", "--label-search", "notes"])
            #expect(human.status == 0, "\(human)")
            let lines = human.stdout.split(separator: "\n")
            #expect(lines.count == 3, "\(human)")
            #expect(lines.first?.hasPrefix("TASK") == true && lines.first?.contains("LABEL") == true, "\(human)")
            #expect(human.stdout.contains("notes-archive") && human.stdout.contains("21/5000"), "\(human)")

            let none = try await f.run(["block", "ls", "--label-search", "zzz"])
            #expect(none.status == 0 && none.stdout.isEmpty, "\(none)")
            #expect(try await f.run(["block", "ls", "--limit", "0"]).status == 64)
        }
    }
}
