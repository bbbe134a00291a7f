import Cairn
import CairnClient
import CairnProtocol
import CairnServer
import CairnTestSupport
import Foundation
import Testing

@Suite struct BlockTests {
    @Test func insertReplaceThroughTheServer() async throws {
        let server = try await TestServer()
        let t = uniqueTenant()
        let ns = try Namespace(tenant: t, task: "x")
        let c = try await server.client(token: try await server.token(tenant: t, grants: ["read", "write"]))
        let created = try await c.createBlock(ns, label: "notes", value: "a\nb", description: "scratch")
        #expect(created.version == 1 && created.kind == .block && created.block?.limit == 5000)
        #expect(try await c.insert(ns, label: "notes", text: "X", line: 1).value == "a\nX\nb")
        #expect(try await c.insert(ns, label: "notes", text: "top", line: 0).value == "top\na\nX\nb")
        let end = try await c.insert(ns, label: "notes", text: "end\nmore")
        #expect(end.value == "top\na\nX\nb\nend\nmore" && end.version == 4)
        await expectError(.invalidLine) { () throws(CairnError) in try await c.insert(ns, label: "notes", text: "x", line: 99) }
        await expectError(.noMatch) { () throws(CairnError) in try await c.replace(ns, label: "notes", old: "zzz", new: "y") }
        try await c.insert(ns, label: "notes", text: "X")
        let ambiguous = await expectError(.ambiguousMatch) { () throws(CairnError) in try await c.replace(ns, label: "notes", old: "X", new: "y") }
        #expect(ambiguous?.data["lines"] == [3, 7])
        await expectError(.invalidParams) { () throws(CairnError) in try await c.replace(ns, label: "notes", old: "", new: "y") }
        #expect(try await c.replace(ns, label: "notes", old: "X\nb", new: "B").value == "top\na\nB\nend\nmore\nX")
        #expect(try await c.replace(ns, label: "notes", old: "\nX", new: "").value == "top\na\nB\nend\nmore")
        // Failed edits wrote nothing: 1 create + 4 inserts + 2 replaces.
        let block = try await c.block(ns, label: "notes")
        #expect(block.version == 7)
        #expect(try await c.history(ns, key: "notes", limit: 100).map(\.op) == [.replace, .replace, .insert, .insert, .insert, .insert, .create])
        // Empty block: insert is exactly the text.
        try await c.createBlock(ns, label: "empty")
        #expect(try await c.insert(ns, label: "empty", text: "only\nthis").value == "only\nthis")
        await c.close()
        await server.stop()
    }

    @Test func kindsAreKeptApart() async throws {
        let server = try await TestServer()
        let t = uniqueTenant()
        let ns = try Namespace(tenant: t)
        let c = try await server.client(admin: true)
        try await c.createBlock(ns, label: "b")
        try await c.put(ns, key: "plain", value: 1)
        await expectError(.wrongKind) { () throws(CairnError) in try await c.put(ns, key: "b", value: "overwrite") }
        await expectError(.wrongKind) { () throws(CairnError) in try await c.insert(ns, label: "plain", text: "x") }
        await expectError(.wrongKind) { () throws(CairnError) in try await c.block(ns, label: "plain") }
        await expectError(.notFound) { () throws(CairnError) in try await c.block(ns, label: "nope") }
        await expectError(.notFound) { () throws(CairnError) in try await c.insert(ns, label: "nope", text: "x") }
        await expectError(.versionConflict) { () throws(CairnError) in try await c.createBlock(ns, label: "b") }
        await expectError(.versionConflict) { () throws(CairnError) in try await c.createBlock(ns, label: "plain") }
        // Generic reads see blocks.
        let item = try #require(try await c.get(ns, key: "b"))
        #expect(item.kind == .block && item.value == "")
        #expect(try await c.search(try Scope(tenant: t)).count == 2)
        #expect(try await c.listBlocks(try Scope(tenant: t)).map(\.key) == ["b"])
        await c.close()
        await server.stop()
    }

    @Test func limitsAndReadOnly() async throws {
        let server = try await TestServer()
        let t = uniqueTenant()
        let ns = try Namespace(tenant: t)
        let admin = try await server.client(token: try await server.token(tenant: t, grants: ["read", "write", "admin"]))
        let writer = try await server.client(token: try await server.token(tenant: t, grants: ["read", "write"]))
        try await admin.createBlock(ns, label: "short", value: "😀é", limit: 5)
        let over = await expectError(.limitExceeded) { () throws(CairnError) in try await writer.insert(ns, label: "short", text: "abc") }
        #expect(over?.code == 4011 && over?.data["limit"] == 5 && over?.data["requested"] == 6)  // "😀é\nabc" is 6 code points
        #expect(try await writer.insert(ns, label: "short", text: "ab").value == "😀é\nab")
        await expectError(.limitExceeded) { () throws(CairnError) in try await writer.rethink(ns, label: "short", value: "123456") }
        await expectError(.limitExceeded) { () throws(CairnError) in try await admin.createBlock(ns, label: "born-too-big", value: "abcdef", limit: 5) }
        // Only admin changes limits, and not below the current text.
        await expectError(.forbidden) { () throws(CairnError) in try await writer.updateBlock(ns, label: "short", limit: 100) }
        await expectError(.limitExceeded) { () throws(CairnError) in try await admin.updateBlock(ns, label: "short", limit: 3) }
        #expect(try await admin.updateBlock(ns, label: "short", limit: 100) == 3)

        try await admin.createBlock(ns, label: "policies", value: "be kind", readOnly: true)
        let refused = await expectError(.readOnly) { () throws(CairnError) in try await writer.insert(ns, label: "policies", text: "be mean") }
        #expect(refused?.code == 4010)
        await expectError(.readOnly) { () throws(CairnError) in try await writer.replace(ns, label: "policies", old: "kind", new: "mean") }
        await expectError(.readOnly) { () throws(CairnError) in try await writer.rethink(ns, label: "policies", value: "x") }
        await expectError(.readOnly) { () throws(CairnError) in try await writer.updateBlock(ns, label: "policies", description: "x") }
        #expect(try await admin.insert(ns, label: "policies", text: "be brief").value == "be kind\nbe brief")
        #expect(try await writer.block(ns, label: "policies").version == 2)
        // Changing nothing writes nothing.
        #expect(try await admin.updateBlock(ns, label: "policies", readOnly: true) == 2)
        for c in [admin, writer] { await c.close() }
        await server.stop()
    }

    @Test func attachmentsAndContext() async throws {
        let server = try await TestServer()
        let t = uniqueTenant()
        let org = try Namespace(tenant: t)
        let task = try Namespace(tenant: t, task: "t1")
        let c = try await server.client(admin: true)
        try await c.createBlock(org, label: "organization", value: "We build Cairn.", description: "shared by all", agents: ["a1", "a2"])
        try await c.createBlock(task, label: "findings", value: "")
        try await c.attach(task, label: "findings", agent: "a1")
        try await c.attach(task, label: "findings", agent: "a1")  // twice: no-op
        try await c.attach(task, label: "findings", agent: "a2")
        #expect(try await c.blockAgents(org, label: "organization") == ["a1", "a2"])
        // One label per agent.
        try await c.createBlock(try Namespace(tenant: t, task: "t2"), label: "findings")
        let taken = await expectError(.labelTaken) { () throws(CairnError) in
            try await c.attach(try Namespace(tenant: t, task: "t2"), label: "findings", agent: "a1")
        }
        #expect(taken?.code == 4009)
        await expectError(.labelTaken) { () throws(CairnError) in
            try await c.createBlock(try Namespace(tenant: t, role: "r"), label: "organization", agents: ["a2"])
        }
        #expect(try await c.get(try Namespace(tenant: t, role: "r"), key: "organization") == nil)  // refused create wrote nothing

        // Both agents see every edit.
        try await c.insert(task, label: "findings", text: "from a1", agent: "a1")
        try await c.insert(task, label: "findings", text: "from a2", agent: "a2")
        for agent in ["a1", "a2"] {
            let context = try await c.agentContext(tenant: t, agent: agent)
            #expect(context.blocks.map(\.key) == ["findings", "organization"])
            #expect(context.blocks[0].value == "from a1\nfrom a2")
            #expect(context.blocks[0].version == 3)
            #expect(context.rendered.contains("<block label=\"findings\" version=\"3\" chars=\"15/5000\" read_only=\"false\">"))
            #expect(context.rendered.contains("<description>shared by all</description>"))
            #expect(context.rendered.contains("We build Cairn."))
        }
        #expect(try await c.agentBlocks(tenant: t, agent: "a1").count == 2)

        try await c.detach(org, label: "organization", agent: "a2")
        #expect(try await c.agentContext(tenant: t, agent: "a2").blocks.map(\.key) == ["findings"])
        // Deleting a block detaches it everywhere.
        #expect(try await c.deleteBlock(task, label: "findings").existed)
        #expect(try await c.agentContext(tenant: t, agent: "a1").blocks.map(\.key) == ["organization"])
        #expect(try await c.agentContext(tenant: t, agent: "a2").blocks.isEmpty)
        // …so the label is free again for those agents.
        try await c.attach(try Namespace(tenant: t, task: "t2"), label: "findings", agent: "a1")
        // The generic delete detaches too.
        try await c.delete(org, key: "organization")
        #expect(try await c.agentContext(tenant: t, agent: "a1").blocks.map(\.ns.task) == ["t2"])
        let log = try await c.log(try Scope(tenant: t), limit: 1000)
        #expect(log.contains { $0.op == .attach && $0.agent == "a2" && $0.key == "findings" })
        #expect(log.contains { $0.op == .detach && $0.agent == "a2" && $0.key == "organization" })
        await c.close()
        await server.stop()
    }

    @Test func narrowedTokensSeeOnlyTheirBlocksInContext() async throws {
        let server = try await TestServer()
        let t = uniqueTenant()
        let admin = try await server.client(admin: true)
        try await admin.createBlock(try Namespace(tenant: t), label: "org", agents: ["w"])
        try await admin.createBlock(try Namespace(tenant: t, task: "t1"), label: "mine", agents: ["w"])
        try await admin.createBlock(try Namespace(tenant: t, task: "t2"), label: "theirs", agents: ["w"])
        let worker = try await server.client(token: try await server.token(tenant: t, grants: ["read"], task: "t1"))
        let context = try await worker.agentContext(tenant: t, agent: "w")
        #expect(context.blocks.map(\.key) == ["mine"])
        #expect(context.omitted == 2)
        #expect(!context.rendered.contains("theirs"))
        for c in [admin, worker] { await c.close() }
        await server.stop()
    }

    @Test func appendGrantMayInsertOnly() async throws {
        let server = try await TestServer()
        let t = uniqueTenant()
        let ns = try Namespace(tenant: t)
        let admin = try await server.client(admin: true)
        try await admin.createBlock(ns, label: "log", value: "start")
        let appender = try await server.client(token: try await server.token(tenant: t, grants: ["append"]))
        #expect(try await appender.insert(ns, label: "log", text: "more").version == 2)
        await expectError(.forbidden) { () throws(CairnError) in try await appender.replace(ns, label: "log", old: "start", new: "x") }
        await expectError(.forbidden) { () throws(CairnError) in try await appender.rethink(ns, label: "log", value: "x") }
        await expectError(.forbidden) { () throws(CairnError) in try await appender.block(ns, label: "log") }
        for c in [admin, appender] { await c.close() }
        await server.stop()
    }
}
