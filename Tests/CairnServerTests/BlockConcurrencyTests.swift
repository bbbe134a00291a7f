import Cairn
import CairnClient
import CairnProtocol
import CairnServer
import CairnTestSupport
import Foundation
import Testing

/// What Letta gets wrong: edits computed from an earlier copy lose concurrent writes.
@Suite struct BlockConcurrencyTests {
    @Test func thirtyTwoConcurrentInsertsAllLand() async throws {
        let server = try await TestServer()
        let t = uniqueTenant()
        let ns = try Namespace(tenant: t)
        let admin = try await server.client(admin: true)
        let start = try await admin.createBlock(ns, label: "organization", value: "# findings", limit: 100_000)
        var clients: [CairnClient] = []
        for _ in 0..<32 { clients.append(try await server.client(admin: true)) }
        // Every client reads the block at the same version first, as an agent would.
        for c in clients { #expect(try await c.block(ns, label: "organization").version == start.version) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, c) in clients.enumerated() {
                group.addTask { try await c.insert(ns, label: "organization", text: "finding from agent \(i)", agent: "agent-\(i)") }
            }
            try await group.waitForAll()
        }
        let final = try await admin.block(ns, label: "organization")
        let lines = (final.value.stringValue ?? "").split(separator: "\n").map(String.init)
        #expect(final.version == start.version + 32)
        #expect(lines.count == 33)
        #expect(Set(lines.dropFirst()) == Set((0..<32).map { "finding from agent \($0)" }))
        #expect(lines.first == "# findings")
        for c in clients + [admin] { await c.close() }
        await server.stop()
    }

    @Test func twoConcurrentReplacesOfTheSameTextOneWins() async throws {
        let server = try await TestServer()
        let t = uniqueTenant()
        let ns = try Namespace(tenant: t)
        let admin = try await server.client(admin: true)
        for round in 0..<20 {
            let label = "queue-\(round)"
            try await admin.createBlock(ns, label: label, value: "task 7: open\ntask 8: open")
            let a = try await server.client(admin: true)
            let b = try await server.client(admin: true)
            async let first = result { () throws(CairnError) in try await a.replace(ns, label: label, old: "task 7: open", new: "task 7: taken by A") }
            async let second = result { () throws(CairnError) in try await b.replace(ns, label: label, old: "task 7: open", new: "task 7: taken by B") }
            let outcomes = await [first, second]
            let wins = outcomes.filter { if case .success = $0 { true } else { false } }
            let losses = outcomes.compactMap { if case .failure(let e) = $0 { e } else { nil } }
            #expect(wins.count == 1)
            #expect(losses.map(\.reason) == [.noMatch])
            let block = try await admin.block(ns, label: label)
            #expect(block.version == 2)
            let text = block.value.stringValue ?? ""
            #expect(text == "task 7: taken by A\ntask 8: open" || text == "task 7: taken by B\ntask 8: open")
            await a.close()
            await b.close()
        }
        await admin.close()
        await server.stop()
    }

    @Test func concurrentRethinksLastWriterWinsAndCountEveryWrite() async throws {
        let server = try await TestServer()
        let t = uniqueTenant()
        let ns = try Namespace(tenant: t)
        let admin = try await server.client(admin: true)
        try await admin.createBlock(ns, label: "plan", value: "v0")
        var clients: [CairnClient] = []
        for _ in 0..<8 { clients.append(try await server.client(admin: true)) }
        let inputs = (0..<8).flatMap { c in (0..<5).map { "plan \(c).\($0)" } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, c) in clients.enumerated() {
                group.addTask { for j in 0..<5 { try await c.rethink(ns, label: "plan", value: "plan \(i).\(j)") } }
            }
            try await group.waitForAll()
        }
        let final = try await admin.block(ns, label: "plan")
        #expect(final.version == 1 + 40)
        #expect(inputs.contains(final.value.stringValue ?? ""))
        // A stale if_version loses.
        await expectError(.versionConflict) { () throws(CairnError) in try await admin.rethink(ns, label: "plan", value: "x", ifVersion: 5) }
        #expect(try await admin.rethink(ns, label: "plan", value: "mine", ifVersion: 41) == 42)
        for c in clients + [admin] { await c.close() }
        await server.stop()
    }

    @Test func contextIsOneSnapshot() async throws {
        let server = try await TestServer()
        let t = uniqueTenant()
        let ns = try Namespace(tenant: t)
        let admin = try await server.client(admin: true)
        try await admin.createBlock(ns, label: "a", value: "0", agents: ["reader"])
        try await admin.createBlock(ns, label: "b", value: "0", agents: ["reader"])
        let writer = try await server.client(admin: true)
        let reader = try await server.client(admin: true)
        let rounds = 150
        let readsDone = SharedCounter()
        let writes = Task {
            // a is always written first, so a >= b at every instant.
            for i in 1...rounds {
                try await writer.rethink(ns, label: "a", value: String(i))
                try await writer.rethink(ns, label: "b", value: String(i))
                // Every 10 rounds, let the reader catch up a little: reads surely happen all
                // through the writes, however the machine schedules the two.
                if i % 10 == 0 { await eventually { readsDone.value >= i / 10 } }
            }
        }
        var reads = 0
        var sawBetween = false
        while true {
            let context = try await reader.agentContext(tenant: t, agent: "reader")
            let a = Int(context.blocks[0].value.stringValue ?? "") ?? -1
            let b = Int(context.blocks[1].value.stringValue ?? "") ?? -1
            #expect(a >= b, "snapshot showed b=\(b) ahead of a=\(a)")
            #expect(context.blocks[0].version == a + 1 && context.blocks[1].version == b + 1)
            if a > b { sawBetween = true }
            reads += 1
            readsDone.increment()
            if b == rounds { break }
        }
        try await writes.value
        #expect(reads > 10)
        _ = sawBetween  // how often a read falls between the two writes depends on timing
        for c in [admin, writer, reader] { await c.close() }
        await server.stop()
    }
}

func result<T>(_ body: () async throws(CairnError) -> T) async -> Result<T, CairnError> {
    do throws(CairnError) {
        return .success(try await body())
    } catch {
        return .failure(error)
    }
}
