import Cairn
import CairnProtocol

/// The `block.*` and `agent.*` methods: shared memory blocks and their attachments.
enum BlockMethods {
    static func register(in table: inout MethodTable) {
        table.register(RPC.BlockCreate.self) { create, session throws(CairnError) in
            try session.caller.authorize(create.ns, anyOf: [.write])
            let properties = BlockProperties(
                description: create.description, limit: create.limit, readOnly: create.readOnly, metadata: create.metadata)
            let block = try await session.context.store.createBlock(
                create.ns, label: create.label, BlockDraft(value: create.value, properties: properties), agents: create.agents,
                by: try session.attribution(agent: create.agent, reason: create.reason), request: create.requestID)
            return Wire.replayed(RPC.BlockCreate.encodeResult(block.result), block.replayed)
        }

        table.register(RPC.BlockGet.self) { get, session throws(CairnError) in
            try session.caller.authorize(get.ns, anyOf: [.read])
            return RPC.BlockGet.encodeResult(try await session.context.store.block(get.ns, label: get.label, version: get.version))
        }

        table.register(RPC.BlockUpdate.self) { update, session throws(CairnError) in
            let caller = try session.caller
            try caller.authorize(update.ns, anyOf: [.write])
            let changes = BlockChanges(
                value: update.value, description: update.description, limit: update.limit, readOnly: update.readOnly,
                metadata: update.metadata)
            let version = try await session.context.store.updateBlock(
                update.ns, label: update.label, changes, ifVersion: update.ifVersion,
                by: try session.attribution(agent: update.agent, reason: update.reason), admin: caller.grants.contains(.admin),
                request: update.requestID)
            return Wire.replayed(RPC.BlockUpdate.encodeResult(version.result), version.replayed)
        }

        table.register(RPC.BlockInsert.self) { insert, session throws(CairnError) in
            let caller = try session.caller
            try caller.authorize(insert.ns, anyOf: [.append, .write])
            let r = try await session.context.store.insertIntoBlock(
                insert.ns, label: insert.label, text: insert.text, line: insert.line,
                by: try session.attribution(agent: insert.agent, reason: insert.reason), admin: caller.grants.contains(.admin),
                request: insert.requestID)
            return Wire.replayed(RPC.BlockInsert.encodeResult(RPC.BlockEdit(version: r.result.version, value: r.result.value)), r.replayed)
        }

        table.register(RPC.BlockReplace.self) { replace, session throws(CairnError) in
            let caller = try session.caller
            try caller.authorize(replace.ns, anyOf: [.write])
            let r = try await session.context.store.replaceInBlock(
                replace.ns, label: replace.label, old: replace.old, new: replace.new,
                by: try session.attribution(agent: replace.agent, reason: replace.reason), admin: caller.grants.contains(.admin),
                request: replace.requestID)
            return Wire.replayed(RPC.BlockReplace.encodeResult(RPC.BlockEdit(version: r.result.version, value: r.result.value)), r.replayed)
        }

        table.register(RPC.BlockRethink.self) { rethink, session throws(CairnError) in
            let caller = try session.caller
            try caller.authorize(rethink.ns, anyOf: [.write])
            let version = try await session.context.store.rethinkBlock(
                rethink.ns, label: rethink.label, value: rethink.value, ifVersion: rethink.ifVersion,
                by: try session.attribution(agent: rethink.agent, reason: rethink.reason), admin: caller.grants.contains(.admin),
                request: rethink.requestID)
            return Wire.replayed(RPC.BlockRethink.encodeResult(version.result), version.replayed)
        }

        table.register(RPC.BlockDelete.self) { delete, session throws(CairnError) in
            try session.caller.authorize(delete.ns, anyOf: [.write])
            let r = try await session.context.store.deleteBlock(
                delete.ns, label: delete.label, ifVersion: delete.ifVersion,
                by: try session.attribution(agent: delete.agent, reason: delete.reason), request: delete.requestID)
            return Wire.replayed(RPC.BlockDelete.encodeResult(r.result), r.replayed)
        }

        table.register(RPC.BlockList.self) { list, session throws(CairnError) in
            try session.caller.authorize(list.scope, anyOf: [.read])
            let blocks = try await session.context.store.listBlocks(
                list.scope, labelSearch: list.labelSearch, limit: list.limit, offset: list.offset)
            return RPC.BlockList.encodeResult(blocks)
        }

        table.register(RPC.BlockAttach.self) { attach, session throws(CairnError) in
            let caller = try session.caller
            try caller.authorize(attach.ns, anyOf: [.write])
            let done = try await session.context.store.attach(
                attach.ns, label: attach.label, agent: attach.agent, by: Attribution(principal: caller.principal, reason: attach.reason),
                request: attach.requestID)
            return Wire.replayed(RPC.BlockAttach.encodeResult(()), done.replayed)
        }

        table.register(RPC.BlockDetach.self) { detach, session throws(CairnError) in
            let caller = try session.caller
            try caller.authorize(detach.ns, anyOf: [.write])
            let done = try await session.context.store.detach(
                detach.ns, label: detach.label, agent: detach.agent, by: Attribution(principal: caller.principal, reason: detach.reason),
                request: detach.requestID)
            return Wire.replayed(RPC.BlockDetach.encodeResult(()), done.replayed)
        }

        table.register(RPC.BlockAgents.self) { agents, session throws(CairnError) in
            try session.caller.authorize(agents.ns, anyOf: [.read])
            let names = try await session.context.store.agents(of: agents.ns, label: agents.label)
            return RPC.BlockAgents.encodeResult(names)
        }

        table.register(RPC.AgentBlocks.self) { call, session throws(CairnError) in
            let (blocks, omitted) = try await visibleContext(session, tenant: call.tenant, agent: call.agent)
            return RPC.AgentBlocks.encodeResult(RPC.AgentBlocks.Answer(blocks: blocks, omitted: omitted))
        }

        table.register(RPC.AgentContext.self) { call, session throws(CairnError) in
            let (blocks, omitted) = try await visibleContext(session, tenant: call.tenant, agent: call.agent)
            let rendered = ContextRendering.render(agent: call.agent, tenant: call.tenant, blocks: blocks)
            return RPC.AgentContext.encodeResult(AgentContext(blocks: blocks, rendered: rendered, omitted: omitted))
        }
    }

    /// The agent's blocks read at one instant, less those outside a narrowed token's scope
    /// (counted in `omitted`).
    static func visibleContext(_ session: Session, tenant: String, agent: String) async throws(CairnError) -> ([Item], Int) {
        let caller = try session.caller
        try caller.authorize(tenant: tenant)
        try caller.require(anyOf: [.read])
        let all = try await session.context.store.agentContext(tenant: tenant, agent: agent)
        let visible = all.filter { (try? caller.authorize($0.ns, anyOf: [.read])) != nil }
        return (visible, all.count - visible.count)
    }
}
