import Cairn
import CairnProtocol

/// The `block.*` and `agent.*` methods: shared memory blocks and their attachments.
enum BlockMethods {
    static func register(in table: inout MethodTable) {
        table.add(
            "block.create",
            params: ["ns", "label", "value", "description", "limit", "read_only", "metadata", "agents", "reason", "agent", "request_id"]
        ) { session, params throws(CairnError) in
            let ns = try params.namespace()
            let label = try params.key("label")
            let value = try params.optionalString("value") ?? ""
            var properties = BlockProperties()
            properties.description = try params.optionalString("description")
            properties.limit = try params.int("limit", default: 5000, in: 1...maximumBlockLimit)
            properties.readOnly = try params.optionalBool("read_only") ?? false
            properties.metadata = try params.optionalValue("metadata")
            let agents = try params.stringArray("agents") ?? []
            let attribution = try session.attribution(params)
            let request = try session.requestID(params)
            try session.caller.authorize(ns, anyOf: [.write])
            let block = try await session.context.store.createBlock(
                ns, label: label, BlockDraft(value: value, properties: properties), agents: agents, by: attribution, request: request)
            return Wire.replayed(Wire.item(block.result), block.replayed)
        }

        table.add("block.get", params: ["ns", "label", "version"], readOnly: true) { session, params throws(CairnError) in
            let ns = try params.namespace()
            let label = try params.key("label")
            let version = try params.optionalInt("version", in: 1...Int.max)
            try session.caller.authorize(ns, anyOf: [.read])
            return Wire.item(try await session.context.store.block(ns, label: label, version: version))
        }

        table.add(
            "block.update",
            params: ["ns", "label", "value", "description", "limit", "read_only", "metadata", "if_version", "reason", "agent", "request_id"]
        ) { session, params throws(CairnError) in
            let ns = try params.namespace()
            let label = try params.key("label")
            let changes = BlockChanges(
                value: try params.optionalString("value"), description: try params.optionalString("description"),
                limit: try params.optionalInt("limit", in: 1...maximumBlockLimit), readOnly: try params.optionalBool("read_only"),
                metadata: try params.optionalValue("metadata"))
            let ifVersion = try params.optionalInt("if_version", in: 1...Int.max)
            let attribution = try session.attribution(params)
            let request = try session.requestID(params)
            let caller = try session.caller
            try caller.authorize(ns, anyOf: [.write])
            let version = try await session.context.store.updateBlock(
                ns, label: label, changes, ifVersion: ifVersion, by: attribution, admin: caller.grants.contains(.admin), request: request)
            return Wire.replayed(["version": .int(version.result)], version.replayed)
        }

        table.add(
            "block.insert",
            params: ["ns", "label", "text", "line", "reason", "agent", "request_id"]
        ) { session, params throws(CairnError) in
            let ns = try params.namespace()
            let label = try params.key("label")
            let text = try params.string("text")
            let line = try params.int("line", default: -1)
            try BlockText.checkLine(line)
            let attribution = try session.attribution(params)
            let request = try session.requestID(params)
            let caller = try session.caller
            try caller.authorize(ns, anyOf: [.append, .write])
            let r = try await session.context.store.insertIntoBlock(
                ns, label: label, text: text, line: line, by: attribution, admin: caller.grants.contains(.admin), request: request)
            return Wire.replayed(["version": .int(r.result.version), "value": .string(r.result.value)], r.replayed)
        }

        table.add(
            "block.replace",
            params: ["ns", "label", "old", "new", "reason", "agent", "request_id"]
        ) { session, params throws(CairnError) in
            let ns = try params.namespace()
            let label = try params.key("label")
            let old = try params.string("old")
            if old.isEmpty { throw CairnError.invalidParams("old", "old must not be empty; use block.insert to add text") }
            let new = try params.optionalString("new") ?? ""
            if try !params.isPresent("new") { throw CairnError.invalidParams("new", "new is required (\"\" deletes the text)") }
            let attribution = try session.attribution(params)
            let request = try session.requestID(params)
            let caller = try session.caller
            try caller.authorize(ns, anyOf: [.write])
            let r = try await session.context.store.replaceInBlock(
                ns, label: label, old: old, new: new, by: attribution, admin: caller.grants.contains(.admin), request: request)
            return Wire.replayed(["version": .int(r.result.version), "value": .string(r.result.value)], r.replayed)
        }

        table.add(
            "block.rethink",
            params: ["ns", "label", "value", "if_version", "reason", "agent", "request_id"]
        ) { session, params throws(CairnError) in
            let ns = try params.namespace()
            let label = try params.key("label")
            let value = try params.string("value")
            let ifVersion = try params.optionalInt("if_version", in: 1...Int.max)
            let attribution = try session.attribution(params)
            let request = try session.requestID(params)
            let caller = try session.caller
            try caller.authorize(ns, anyOf: [.write])
            let version = try await session.context.store.rethinkBlock(
                ns, label: label, value: value, ifVersion: ifVersion, by: attribution, admin: caller.grants.contains(.admin),
                request: request)
            return Wire.replayed(["version": .int(version.result)], version.replayed)
        }

        table.add(
            "block.delete",
            params: ["ns", "label", "if_version", "reason", "agent", "request_id"]
        ) { session, params throws(CairnError) in
            let ns = try params.namespace()
            let label = try params.key("label")
            let ifVersion = try params.optionalInt("if_version", in: 0...Int.max)
            let attribution = try session.attribution(params)
            let request = try session.requestID(params)
            try session.caller.authorize(ns, anyOf: [.write])
            let r = try await session.context.store.deleteBlock(ns, label: label, ifVersion: ifVersion, by: attribution, request: request)
            return Wire.replayed(["version": .int(r.result.version), "existed": .bool(r.result.existed)], r.replayed)
        }

        table.add(
            "block.list",
            params: ["scope", "label_search", "limit", "offset"], readOnly: true
        ) { session, params throws(CairnError) in
            let scope = try params.scope()
            let search = try params.optionalString("label_search")
            let limit = try params.int("limit", default: 50, in: 1...maximumPageSize)
            let offset = try params.int("offset", default: 0, in: 0...Int.max)
            try session.caller.authorize(scope, anyOf: [.read])
            let blocks = try await session.context.store.listBlocks(scope, labelSearch: search, limit: limit, offset: offset)
            return ["blocks": .array(blocks.map(Wire.item))]
        }

        for (name, attach) in [("block.attach", true), ("block.detach", false)] {
            table.add(name, params: ["ns", "label", "agent", "reason", "request_id"]) { session, params throws(CairnError) in
                let ns = try params.namespace()
                let label = try params.key("label")
                let agent = try params.key("agent")
                let reason = try params.optionalString("reason")
                let request = try session.requestID(params)
                let caller = try session.caller
                try caller.authorize(ns, anyOf: [.write])
                let who = Attribution(principal: caller.principal, reason: reason)
                let done =
                    attach
                    ? try await session.context.store.attach(ns, label: label, agent: agent, by: who, request: request)
                    : try await session.context.store.detach(ns, label: label, agent: agent, by: who, request: request)
                return Wire.replayed([:], done.replayed)
            }
        }

        table.add("block.agents", params: ["ns", "label"], readOnly: true) { session, params throws(CairnError) in
            let ns = try params.namespace()
            let label = try params.key("label")
            try session.caller.authorize(ns, anyOf: [.read])
            let agents = try await session.context.store.agents(of: ns, label: label)
            return ["agents": .array(agents.map(JSONValue.string))]
        }

        table.add("agent.blocks", params: ["tenant", "agent"], readOnly: true) { session, params throws(CairnError) in
            let (tenant, agent, blocks, omitted) = try await visibleContext(session, params)
            _ = (tenant, agent)
            return ["blocks": .array(blocks.map(Wire.item)), "omitted": .int(omitted)]
        }

        table.add("agent.context", params: ["tenant", "agent"], readOnly: true) { session, params throws(CairnError) in
            let (tenant, agent, blocks, omitted) = try await visibleContext(session, params)
            return [
                "blocks": .array(blocks.map(Wire.item)), "omitted": .int(omitted),
                "rendered": .string(ContextRendering.render(agent: agent, tenant: tenant, blocks: blocks)),
            ]
        }
    }

    /// The agent's blocks read at one instant, less those outside a narrowed token's scope
    /// (counted in `omitted`).
    static func visibleContext(_ session: Session, _ params: Params) async throws(CairnError) -> (String, String, [Item], Int) {
        let tenant = try params.namespaceComponent("tenant")
        let agent = try params.key("agent")
        let caller = try session.caller
        try caller.authorize(tenant: tenant)
        try caller.require(anyOf: [.read])
        let all = try await session.context.store.agentContext(tenant: tenant, agent: agent)
        let visible = all.filter { (try? caller.authorize($0.ns, anyOf: [.read])) != nil }
        return (tenant, agent, visible, all.count - visible.count)
    }
}
