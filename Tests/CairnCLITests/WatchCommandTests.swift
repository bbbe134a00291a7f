import Cairn
import CairnTestSupport
import Foundation
import Testing

/// `cairn watch`, run in the background against an in-process server while the test writes
/// through the Swift client. A watch is known to be live when the server counts its
/// subscription (each test has a server of its own), never after a sleep.
@Suite struct WatchCommandTests {
    /// The JSON lines of a `--json` watch.
    static func events(_ lines: [String]) -> [JSONValue] {
        lines.compactMap { try? JSONValue(parsing: $0) }
    }

    /// The audit log of a scope: one entry per write, with the cursor its event carries.
    static func log(_ f: Fixture, _ scope: JSONValue) async throws -> [JSONValue] {
        try await f.call("log", ["scope": scope])["entries"]?.arrayValue ?? []
    }

    @Test func printsTheWritesOfItsScopeOnly() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            let other = try await Fixture(server)
            let t1: JSONValue = ["tenant": .string(f.tenant), "task": "t1"]
            _ = try await f.call("put", ["ns": t1, "key": "before", "value": 0])

            let watch = try f.start(["watch", "--task", "t1", "--count", "3", "--json"])
            await eventually { server.server.feed.subscriptionCount == 1 }
            // Outside the scope: another tenant's t1, another task, no task.
            _ = try await other.call("put", ["ns": ["tenant": .string(other.tenant), "task": "t1"], "key": "plan", "value": 1])
            _ = try await f.call("put", ["ns": ["tenant": .string(f.tenant), "task": "t2"], "key": "plan", "value": 1])
            _ = try await f.call("put", ["ns": f.ns, "key": "plan", "value": 1])
            // Inside.
            let v1 = try await f.call("put", ["ns": t1, "key": "plan", "value": ["step": 1]])
            let v2 = try await f.call("put", ["ns": t1, "key": "plan", "value": ["step": 2]])
            let gone = try await f.call("delete", ["ns": t1, "key": "plan"])

            let result = try await watch.wait()
            #expect(result.status == 0, "\(result)")
            let lines = result.stdout.split(separator: "\n").map(String.init)
            let events = Self.events(lines)
            #expect(lines.count == 3 && events.count == 3, "\(result)")
            #expect(events.compactMap { $0["op"]?.stringValue } == ["put", "put", "delete"], "\(result)")
            #expect(events.compactMap { $0["type"]?.stringValue } == ["write", "write", "delete"], "\(result)")
            #expect(events.compactMap { $0["key"]?.stringValue } == ["plan", "plan", "plan"], "\(result)")
            #expect(events.map { $0["version"] } == [v1["version"], v2["version"], gone["version"]], "\(result)")
            #expect(events.allSatisfy { $0["ns"] == t1 && $0["by"] == "cli-user" && $0["value"] == nil }, "\(result)")
            // Exactly the scope's writes since the watch began, with the cursors of the audit log.
            let log = try await Self.log(f, t1)
            #expect(events.map { $0["cursor"] } == log.dropFirst().map { $0["cursor"] }, "\(result)")
            let last = try #require(events.last?["cursor"]?.stringValue)
            #expect(result.stderr.contains("last cursor: \(last)\n"), "\(result)")
            await eventually { server.server.feed.subscriptionCount == 0 }
        }
    }

    @Test func fromReplaysExactlyTheEventsAfterTheCursor() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            let t1: JSONValue = ["tenant": .string(f.tenant), "task": "t1"]
            for i in 1...5 { _ = try await f.call("put", ["ns": t1, "key": .string("k\(i)"), "value": .int(i)]) }
            let log = try await Self.log(f, t1)
            let after = try #require(log[1]["cursor"]?.stringValue)

            let replay = try await f.run(["watch", "--task", "t1", "--from", after, "--count", "3", "--json"])
            #expect(replay.status == 0, "\(replay)")
            let events = Self.events(replay.stdout.split(separator: "\n").map(String.init))
            #expect(events.compactMap { $0["key"]?.stringValue } == ["k3", "k4", "k5"], "\(replay)")
            #expect(events.map { $0["cursor"] } == log[2...].map { $0["cursor"] }, "\(replay)")

            // Without --count it goes on live after the replay: the next line is the next write.
            let watch = try f.start(["watch", "--task", "t1", "--from", after])
            let replayed = await watch.lines(3)
            #expect(replayed.count == 3, "\(replayed)")
            for (line, key) in zip(replayed, ["k3", "k4", "k5"]) {
                #expect(line.contains("  put      \(f.tenant)/t1/-  \(key)  v1  by cli-user"), "\(line)")
            }
            _ = try await f.call("put", ["ns": t1, "key": "k6", "value": 6])
            let live = await watch.nextLine()
            #expect(live?.contains("/t1/-  k6  v1  by cli-user") == true, "\(live ?? "nothing")")
            watch.process.interrupt()
            let result = try await watch.wait()
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.split(separator: "\n").count == 4, "\(result)")
        }
    }

    @Test func signalsEndItCleanlyWithTheCursorToResumeFrom() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            let watch = try f.start(["watch", "--json"])
            await eventually { server.server.feed.subscriptionCount == 1 }
            _ = try await f.call("put", ["ns": f.ns, "key": "a", "value": 1])
            _ = try await f.call("put", ["ns": f.ns, "key": "b", "value": 2])
            let printed = Self.events(await watch.lines(2))
            #expect(printed.compactMap { $0["key"]?.stringValue } == ["a", "b"])
            watch.process.interrupt()  // SIGINT
            let result = try await watch.wait()
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.split(separator: "\n").count == 2, "\(result)")
            let last = try #require(printed.last?["cursor"]?.stringValue)
            #expect(result.stderr.contains("last cursor: \(last)\n"), "\(result)")
            await eventually { server.server.feed.subscriptionCount == 0 }

            // Resuming from it misses nothing and repeats nothing.
            let c = try await f.call("put", ["ns": f.ns, "key": "c", "value": 3])
            let resumed = try await f.run(["watch", "--from", last, "--count", "1", "--json"])
            #expect(resumed.status == 0, "\(resumed)")
            let event = try #require(resumed.json, "\(resumed)")
            #expect(event["key"] == "c" && event["version"] == c["version"], "\(resumed)")

            // SIGTERM before any event: the cursor the subscription started after (the tenant's
            // newest write, c).
            let idle = try f.start(["watch"])
            await eventually { server.server.feed.subscriptionCount == 1 }
            idle.process.terminate()  // SIGTERM
            let ended = try await idle.wait()
            #expect(ended.status == 0 && ended.stdout.isEmpty, "\(ended)")
            #expect(ended.stderr.contains("last cursor: \(event["cursor"]?.stringValue ?? "?")\n"), "\(ended)")
        }
    }

    @Test func valuesComeWithValues() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            _ = try await f.call("put", ["ns": f.ns, "key": "marker", "value": true])
            let start = try #require(try await Self.log(f, f.ns).last?["cursor"]?.stringValue)

            let watch = try f.start(["watch", "--values", "--json", "--count", "4"])
            await eventually { server.server.feed.subscriptionCount == 1 }
            _ = try await f.call("put", ["ns": f.ns, "key": "plan", "value": ["steps": ["a", "b"]]])
            _ = try await f.call("block.create", ["ns": f.ns, "label": "notes", "value": "# Notes"])
            let inserted = try await f.call(
                "block.insert", ["ns": f.ns, "label": "notes", "text": "- one", "reason": "a finding", "agent": "agent-7"])
            _ = try await f.call("delete", ["ns": f.ns, "key": "plan"])
            let result = try await watch.wait()
            #expect(result.status == 0, "\(result)")
            let events = Self.events(result.stdout.split(separator: "\n").map(String.init))
            #expect(events.compactMap { $0["op"]?.stringValue } == ["put", "create", "insert", "delete"], "\(result)")
            let values: [JSONValue?] = [["steps": ["a", "b"]], "# Notes", inserted["value"], .null]
            #expect(events.map { $0["value"] } == values, "\(result)")

            // The same as text, replayed: the value closes each line, as compact JSON.
            let human = try await f.run(["watch", "--from", start, "--values", "--count", "4"])
            #expect(human.status == 0, "\(human)")
            let lines = human.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 4, "\(human)")
            guard lines.count == 4 else { return }
            #expect(lines[0].hasSuffix(#"  \#(f.tenant)/-/-  plan  v1  by cli-user  {"steps":["a","b"]}"#), "\(lines[0])")
            #expect(lines[1].contains("  create   ") && lines[1].hasSuffix(##"  notes  v1  by cli-user  "# Notes""##), "\(lines[1])")
            #expect(
                lines[2].hasSuffix(##"  notes  v2  by cli-user  agent agent-7  reason "a finding"  "# Notes\n- one""##), "\(lines[2])")
            #expect(lines[3].contains("  delete   ") && lines[3].hasSuffix("  plan  v2  by cli-user  null"), "\(lines[3])")
            #expect(lines.allSatisfy { Timestamp(rfc3339: String($0.prefix { $0 != " " })) != nil }, "\(human)")
        }
    }

    @Test func aTrimmedStreamIsReportedAndTheWatchGoesOn() async throws {
        try await withServer(storeOptions: StoreOptions(streamLength: 10)) { server in
            let f = try await Fixture(server)
            let writer = try await server.client(token: f.token)
            _ = try await writer.call("put", ["ns": f.ns, "key": "k", "value": 0])
            let old = try #require(try await Self.log(f, f.ns).first?["cursor"]?.stringValue)
            // Approximate trimming drops whole stream nodes (100 entries by default): write enough.
            for i in 1...400 { _ = try await writer.call("put", ["ns": f.ns, "key": "k", "value": .int(i)]) }
            await writer.close()
            let bounds = try await server.store.streamBounds(tenant: f.tenant)
            #expect(bounds.trimmedThrough > (try #require(StreamCursor(old))))

            let result = try await f.run(["watch", "--from", old, "--count", "2", "--json"])
            #expect(result.status == 0, "\(result)")
            #expect(result.stderr.contains("cairn: resync (trimmed): "), "\(result)")
            #expect(result.stderr.contains("(cursor: \(bounds.trimmedThrough))"), "\(result)")
            let events = Self.events(result.stdout.split(separator: "\n").map(String.init))
            #expect(events.count == 2, "\(result)")
            let cursors = events.compactMap { $0["cursor"]?.stringValue.flatMap(StreamCursor.init) }
            #expect(cursors.count == 2 && cursors.allSatisfy { $0 > bounds.trimmedThrough }, "\(result)")
            #expect(result.stderr.hasSuffix("last cursor: \(cursors.last?.description ?? "?")\n"), "\(result)")
        }
    }

    @Test func aLostConnectionExitsWithStatus5AndTheCursor() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            let watch = try f.start(["watch", "--json"])
            await eventually { server.server.feed.subscriptionCount == 1 }
            _ = try await f.call("put", ["ns": f.ns, "key": "a", "value": 1])
            let event = try #require(Self.events(await watch.lines(1)).first)
            server.server.closeAllConnections()
            let result = try await watch.wait()
            #expect(result.status == 5, "\(result)")
            #expect(result.stderr.contains("cairn: connection_failed: "), "\(result)")
            #expect(result.stderr.contains("last cursor: \(event["cursor"]?.stringValue ?? "?")\n"), "\(result)")
        }
    }

    @Test func aClosedPipeEndsIt() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            let cairn = try #require(CLI.executable)
            // `cairn watch | head -n 1`, with cairn's status.
            let script = #""$0" watch --json --url "$1" --tenant "$2" | head -n 1; exit "${PIPESTATUS[0]}""#
            let pipeline = try RunningCLI(
                ["-c", script, cairn.path, server.url, f.tenant], token: f.token, executable: URL(fileURLWithPath: "/bin/bash"))
            await eventually { server.server.feed.subscriptionCount == 1 }
            _ = try await f.call("put", ["ns": f.ns, "key": "first", "value": 1])
            let first = try #require(Self.events(await pipeline.lines(1)).first)
            #expect(first["key"] == "first")
            // head has gone (or is about to): each write is one more line cairn cannot deliver.
            var writes = 0
            while pipeline.process.isRunning, writes < 200 {
                writes += 1
                _ = try await f.call("put", ["ns": f.ns, "key": "more", "value": .int(writes)])
            }
            let result = try await pipeline.wait()
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr.contains("cairn: cannot write to stdout"), "\(result)")
            #expect(result.stderr.contains("last cursor: "), "\(result)")
            await eventually { server.server.feed.subscriptionCount == 0 }
        }
    }

    @Test func usage() async throws {
        try await withServer { server in
            let f = try await Fixture(server)
            for arguments in [["watch", "--count", "0"], ["watch", "--task", "t", "--no-task"], ["watch", "--from", ""]] {
                let result = try await f.run(arguments)
                #expect(result.status == 64, "\(arguments): \(result)")
            }
            let noTenant = try await CLI.run(["watch", "--url", server.url], token: f.token)
            #expect(noTenant.status == 64 && noTenant.stderr.contains("--tenant"), "\(noTenant)")
            let badCursor = try await f.run(["watch", "--from", "nonsense"])
            #expect(badCursor.status == 1 && badCursor.stderr.contains("invalid_params"), "\(badCursor)")
        }
    }
}
