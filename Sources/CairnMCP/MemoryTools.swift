import CairnClient
import CairnCore
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
        let agent = JSONValue.string(settings.agent)
        switch name {
        case ToolCatalog.context:
            _ = try ToolArguments(arguments, allowed: [])
            return try await client.call("agent.context", ["tenant": .string(settings.tenant), "agent": agent])

        case ToolCatalog.insert:
            let a = try ToolArguments(arguments, allowed: ["label", "text", "line"])
            let label = try a.requiredString("label"), text = try a.requiredString("text")
            let line = try a.int("line", minimum: -1)
            let block = try await attachedBlock(label)
            return try await client.call("block.insert", params([
                "ns": block.ns, "label": .string(label), "text": .string(text), "line": line.map(JSONValue.int), "agent": agent,
            ]))

        case ToolCatalog.replace:
            let a = try ToolArguments(arguments, allowed: ["label", "old", "new"])
            let label = try a.requiredString("label"), old = try a.requiredString("old"), new = try a.requiredString("new")
            let block = try await attachedBlock(label)
            return try await client.call("block.replace", params([
                "ns": block.ns, "label": .string(label), "old": .string(old), "new": .string(new), "agent": agent,
            ]))

        case ToolCatalog.rethink:
            let a = try ToolArguments(arguments, allowed: ["label", "value", "if_version"])
            let label = try a.requiredString("label"), value = try a.requiredString("value")
            let ifVersion = try a.int("if_version", minimum: 1)
            let block = try await attachedBlock(label)
            if ifVersion == nil { try await requireSoleHolder(block) }
            return try await client.call("block.rethink", params([
                "ns": block.ns, "label": .string(label), "value": .string(value), "if_version": ifVersion.map(JSONValue.int), "agent": agent,
            ]))

        case ToolCatalog.createBlock:
            let a = try ToolArguments(arguments, allowed: ["label", "value", "description", "limit", "read_only"])
            let label = try a.requiredString("label")
            try NameRules.key(label, field: "label")
            let created = try await client.call("block.create", params([
                "ns": settings.namespace, "label": .string(label), "value": try a.string("value").map(JSONValue.string),
                "description": try a.string("description").map(JSONValue.string), "limit": try a.int("limit", minimum: 1).map(JSONValue.int),
                "read_only": try a.bool("read_only").map(JSONValue.bool), "agents": [agent],
            ]))
            return created

        case ToolCatalog.put:
            let a = try ToolArguments(arguments, allowed: ["key", "value", "if_version", "task", "role"])
            let key = try a.requiredString("key")
            guard let value = a.json("value") else { throw CairnError.invalidParams("value", "`value` is required and may not be null (there is no delete tool)") }
            return try await client.call("put", params([
                "ns": try namespace(a), "key": .string(key), "value": value,
                "if_version": try a.int("if_version", minimum: 0).map(JSONValue.int), "agent": agent,
            ]))

        case ToolCatalog.get:
            let a = try ToolArguments(arguments, allowed: ["key", "task", "role"])
            let item = try await client.call("get", ["ns": try namespace(a), "key": .string(try a.requiredString("key"))])
            return ["item": item]

        case ToolCatalog.search:
            let a = try ToolArguments(arguments, allowed: ["query", "filter", "semantic", "limit", "task", "role"])
            let ns = try namespace(a)
            // The namespace exactly: an absent task or role matches only absence (null in a scope).
            let scope: JSONValue = ["tenant": ns["tenant"] ?? .null, "task": ns["task"] ?? .null, "role": ns["role"] ?? .null]
            let semantic = try a.bool("semantic")
            return try await client.call("search", params([
                "scope": scope, "query": try a.string("query").map(JSONValue.string), "filter": try a.object("filter"),
                "semantic": semantic == true ? .bool(true) : nil, "limit": try a.int("limit", minimum: 1).map(JSONValue.int),
            ]))

        case ToolCatalog.history:
            let a = try ToolArguments(arguments, allowed: ["label", "key", "task", "role"])
            let label = try a.string("label"), key = try a.string("key")
            switch (label, key) {
            case (let label?, nil):
                if a.has("task") || a.has("role") {
                    throw CairnError.invalidParams(a.has("task") ? "task" : "role", "`task` and `role` go with `key`; a `label` names one of your blocks wherever it lives")
                }
                let block = try await attachedBlock(label)
                return try await client.call("history", ["ns": block.ns, "key": .string(label)])
            case (nil, let key?):
                return try await client.call("history", ["ns": try namespace(a), "key": .string(key)])
            default:
                throw CairnError.invalidParams(label == nil ? "key" : "label", "give exactly one of `label` (one of your blocks) or `key` (a stored item)")
            }

        default:
            throw CairnError(.methodNotFound, "no tool named \(name.debugDescription); the tools are \(ToolCatalog.all.map(\.name).joined(separator: ", "))")
        }
    }

    /// The namespace of an item tool call: the session's, or the call's own `task`/`role` when
    /// either is given (then a part not given is absent).
    func namespace(_ a: ToolArguments) throws(CairnError) -> JSONValue {
        let task = try a.string("task"), role = try a.string("role")
        guard task != nil || role != nil else { return settings.namespace }
        if let task { try NameRules.component(task, field: "task") }
        if let role { try NameRules.component(role, field: "role") }
        return SessionSettings.namespace(tenant: settings.tenant, task: task, role: role)
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
        let result = try await client.call("block.agents", ["ns": block.ns, "label": .string(block.label)])
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

    var uri: BlockResourceURI {
        BlockResourceURI(
            tenant: ns["tenant"]?.stringValue ?? "", task: ns["task"]?.stringValue, role: ns["role"]?.stringValue, label: label)
    }

    static func all(_ client: CairnConnection, _ settings: SessionSettings) async throws(CairnError) -> [AttachedBlock] {
        let result = try await client.call("agent.blocks", ["tenant": .string(settings.tenant), "agent": .string(settings.agent)])
        return (result["blocks"]?.arrayValue ?? []).compactMap { item in
            guard let ns = item["ns"], let label = item["key"]?.stringValue ?? item["label"]?.stringValue else { return nil }
            return AttachedBlock(ns: ns, label: label, version: item["version"]?.intValue ?? 0, item: item)
        }
    }
}
