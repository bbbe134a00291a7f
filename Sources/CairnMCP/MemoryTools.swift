import CairnClient
import CairnCore
import CairnProtocol
import MCP

/// The memory tools of one session: each call checked, turned into one Cairn method (two when a
/// block label must first be found among the agent's blocks) on the session's connection.
struct MemoryTools: Sendable {
    let client: CairnConnection
    let settings: SessionSettings

    /// Runs one tool call. Every failure is a tool result with `isError` whose text starts with
    /// the Cairn reason; nothing is thrown, so the model always sees what happened.
    func call(_ name: String, _ arguments: [String: Value]?) async -> CallTool.Result {
        do {
            let result = try await run(name, arguments)
            return Self.result(text: result.serialized(), structured: result, isError: false)
        } catch {
            return Self.result(text: ToolErrors.text(error), structured: ToolErrors.structured(error), isError: true)
        }
    }

    static func result(text: String, structured: JSONValue, isError: Bool) -> CallTool.Result {
        let content: Value? = JSONBridge.value(structured)
        return CallTool.Result(content: [.text(text: text, annotations: nil, _meta: nil)], structuredContent: content, isError: isError)
    }

    func run(_ name: String, _ arguments: [String: Value]?) async throws(CairnError) -> JSONValue {
        let agent = settings.agent
        switch name {
        case ToolCatalog.context:
            _ = try ToolArguments(arguments, allowed: [])
            return try await send(RPC.AgentContext(tenant: settings.tenant, agent: agent))

        case ToolCatalog.insert:
            let a = try ToolArguments(arguments, allowed: ["label", "text", "line"])
            let label = try a.requiredString("label"), text = try a.requiredString("text")
            let line = try a.int("line", minimum: -1)
            let block = try await attachedBlock(label)
            return try await send(
                RPC.BlockInsert(try block.namespace(), label: label, text: text, line: line ?? RPC.BlockInsert.defaultLine, agent: agent))

        case ToolCatalog.replace:
            let a = try ToolArguments(arguments, allowed: ["label", "old", "new"])
            let label = try a.requiredString("label"), old = try a.requiredString("old"), new = try a.requiredString("new")
            let block = try await attachedBlock(label)
            return try await send(RPC.BlockReplace(try block.namespace(), label: label, old: old, new: new, agent: agent))

        case ToolCatalog.rethink:
            let a = try ToolArguments(arguments, allowed: ["label", "value", "if_version"])
            let label = try a.requiredString("label"), value = try a.requiredString("value")
            let ifVersion = try a.int("if_version", minimum: 1)
            let block = try await attachedBlock(label)
            if ifVersion == nil { try await requireSoleHolder(block) }
            return try await send(RPC.BlockRethink(try block.namespace(), label: label, value: value, ifVersion: ifVersion, agent: agent))

        case ToolCatalog.createBlock:
            let a = try ToolArguments(arguments, allowed: ["label", "value", "description", "limit", "read_only"])
            let label = try a.requiredString("label")
            try NameRules.key(label, field: "label")
            let create = RPC.BlockCreate(
                try sessionNamespace(), label: label, value: try a.string("value") ?? "", description: try a.string("description"),
                limit: try a.int("limit", minimum: 1) ?? RPC.BlockCreate.defaultLimit, readOnly: try a.bool("read_only") ?? false,
                agents: [agent])
            return try await send(create)

        case ToolCatalog.put:
            let a = try ToolArguments(arguments, allowed: ["key", "value", "if_version", "task", "role"])
            let key = try a.requiredString("key")
            guard let value = a.json("value") else { throw CairnError.invalidParams("value", "`value` is required and may not be null (there is no delete tool)") }
            return try await send(RPC.Put(try namespace(a), key: key, value: value, ifVersion: try a.int("if_version", minimum: 0), agent: agent))

        case ToolCatalog.get:
            let a = try ToolArguments(arguments, allowed: ["key", "task", "role"])
            let item = try await send(RPC.Get(try namespace(a), key: try a.requiredString("key")))
            return ["item": item]

        case ToolCatalog.search:
            let a = try ToolArguments(arguments, allowed: ["query", "filter", "semantic", "limit", "task", "role"])
            // The namespace exactly: an absent task or role matches only absence (null in a scope).
            let scope = Scope(exactly: try namespace(a))
            let query = try a.string("query"), filter = try a.object("filter")
            let semantic = try a.bool("semantic")
            var search = try RPC.Search(scope, filter: filter, query: query, limit: try a.int("limit", minimum: 1)).params
            // No method type has `semantic` yet: it is sent as asked, and the server judges it.
            if semantic == true { search["semantic"] = true }
            return try await client.call(RPC.Search.name, .object(search))

        case ToolCatalog.history:
            let a = try ToolArguments(arguments, allowed: ["label", "key", "task", "role"])
            let label = try a.string("label"), key = try a.string("key")
            switch (label, key) {
            case (let label?, nil):
                if a.has("task") || a.has("role") {
                    throw CairnError.invalidParams(a.has("task") ? "task" : "role", "`task` and `role` go with `key`; a `label` names one of your blocks wherever it lives")
                }
                let block = try await attachedBlock(label)
                return try await send(RPC.History(try block.namespace(), key: label))
            case (nil, let key?):
                return try await send(RPC.History(try namespace(a), key: key))
            default:
                throw CairnError.invalidParams(label == nil ? "key" : "label", "give exactly one of `label` (one of your blocks) or `key` (a stored item)")
            }

        default:
            throw CairnError(.methodNotFound, "no tool named \(name.debugDescription); the tools are \(ToolCatalog.all.map(\.name).joined(separator: ", "))")
        }
    }

    /// Sends one method value on the session's connection; its result as the server wrote it.
    func send(_ method: some RPCMethod) async throws(CairnError) -> JSONValue {
        try await client.call(type(of: method).name, .object(method.params))
    }

    /// The session's own namespace.
    func sessionNamespace() throws(CairnError) -> Namespace {
        try Namespace(tenant: settings.tenant, task: settings.task, role: settings.role)
    }

    /// The namespace of an item tool call: the session's, or the call's own `task`/`role` when
    /// either is given (then a part not given is absent).
    func namespace(_ a: ToolArguments) throws(CairnError) -> Namespace {
        let task = try a.string("task"), role = try a.string("role")
        guard task != nil || role != nil else { return try sessionNamespace() }
        if let task { try NameRules.component(task, field: "task") }
        if let role { try NameRules.component(role, field: "role") }
        return try Namespace(tenant: settings.tenant, task: task, role: role)
    }

    /// The block attached to the session's agent under `label`, wherever it lives.
    func attachedBlock(_ label: String) async throws(CairnError) -> AttachedBlock {
        try NameRules.key(label, field: "label")
        let blocks = try await AttachedBlock.all(client, settings)
        guard let block = blocks.first(where: { sameName($0.label, label) }) else {
            let labels = blocks.map(\.label)
            throw CairnError(
                .notFound,
                "agent \(settings.agent.debugDescription) has no block labelled \(label.debugDescription)"
                    + (labels.isEmpty ? " (it has none)" : " (its blocks: \(labels.joined(separator: ", ")))"),
                data: ["field": "label"])
        }
        return block
    }

    /// A full rewrite without `if_version` is last-writer-wins: allowed only when no other agent
    /// holds the block, so it cannot silently erase another agent's write.
    func requireSoleHolder(_ block: AttachedBlock) async throws(CairnError) {
        let result = try await send(RPC.BlockAgents(try block.namespace(), label: block.label))
        let others = (result["agents"]?.arrayValue ?? []).compactMap(\.stringValue).filter { !sameName($0, settings.agent) }
        guard others.isEmpty else {
            throw CairnError.invalidParams(
                "if_version",
                "block \(block.label.debugDescription) is shared with \(others.joined(separator: ", ")), so a full rewrite needs `if_version` (the version memory_context shows, currently \(block.version))")
        }
    }
}

/// One block attached to an agent, as `agent.blocks` lists it.
struct AttachedBlock: Sendable {
    var ns: JSONValue
    var label: String
    var version: Int
    var item: JSONValue

    /// `ns` as the store names it (the server sent it).
    func namespace() throws(CairnError) -> Namespace { try Wire.decodeNamespace(ns) }

    var uri: BlockResourceURI {
        BlockResourceURI(
            tenant: ns["tenant"]?.stringValue ?? "", task: ns["task"]?.stringValue, role: ns["role"]?.stringValue, label: label)
    }

    static func all(_ client: CairnConnection, _ settings: SessionSettings) async throws(CairnError) -> [AttachedBlock] {
        let agentBlocks = RPC.AgentBlocks(tenant: settings.tenant, agent: settings.agent)
        let result = try await client.call(RPC.AgentBlocks.name, .object(agentBlocks.params))
        return (result["blocks"]?.arrayValue ?? []).compactMap { item in
            guard let ns = item["ns"], let label = item["key"]?.stringValue ?? item["label"]?.stringValue else { return nil }
            return AttachedBlock(ns: ns, label: label, version: item["version"]?.intValue ?? 0, item: item)
        }
    }
}
