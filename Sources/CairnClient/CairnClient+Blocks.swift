import CairnCore
import CairnProtocol

/// `agent.context`'s answer.
public struct AgentContext: Sendable, Hashable {
    /// Every attached block the token may read, read at one instant, by label.
    public var blocks: [Item]
    /// The prompt-ready rendering of `blocks`.
    public var rendered: String
    /// Attached blocks left out because they lie outside the token's scope.
    public var omitted: Int
}

extension CairnClient {
    @discardableResult
    public func createBlock(
        _ ns: Namespace, label: String, value: String = "", description: String? = nil, limit: Int? = nil,
        readOnly: Bool? = nil, metadata: JSONValue? = nil, agents: [String]? = nil, reason: String? = nil,
        agent: String? = nil
    ) async throws(CairnError) -> Item {
        try Wire.decodeItem(
            try await call(
                "block.create",
                Self.params([
                    "ns": Wire.namespace(ns), "label": .string(label), "value": .string(value),
                    "description": description.map(JSONValue.string), "limit": limit.map(JSONValue.int),
                    "read_only": readOnly.map(JSONValue.bool), "metadata": metadata,
                    "agents": agents.map { .array($0.map(JSONValue.string)) }, "reason": reason.map(JSONValue.string),
                    "agent": agent.map(JSONValue.string),
                ])))
    }

    public func block(_ ns: Namespace, label: String, version: Int? = nil) async throws(CairnError) -> Item {
        try Wire.decodeItem(
            try await call(
                "block.get", Self.params(["ns": Wire.namespace(ns), "label": .string(label), "version": version.map(JSONValue.int)])))
    }

    @discardableResult
    public func updateBlock(
        _ ns: Namespace, label: String, value: String? = nil, description: String? = nil, limit: Int? = nil,
        readOnly: Bool? = nil, metadata: JSONValue? = nil, ifVersion: Int? = nil, reason: String? = nil, agent: String? = nil
    ) async throws(CairnError) -> Int {
        try await call(
            "block.update",
            Self.params([
                "ns": Wire.namespace(ns), "label": .string(label), "value": value.map(JSONValue.string),
                "description": description.map(JSONValue.string), "limit": limit.map(JSONValue.int),
                "read_only": readOnly.map(JSONValue.bool), "metadata": metadata, "if_version": ifVersion.map(JSONValue.int),
                "reason": reason.map(JSONValue.string), "agent": agent.map(JSONValue.string),
            ]))["version"]?.intValue ?? 0
    }

    /// Inserts `text` after line `line` (0 top, -1 end) of the block's current text.
    @discardableResult
    public func insert(
        _ ns: Namespace, label: String, text: String, line: Int? = nil, reason: String? = nil, agent: String? = nil
    ) async throws(CairnError) -> (version: Int, value: String) {
        let r = try await call(
            "block.insert",
            Self.params([
                "ns": Wire.namespace(ns), "label": .string(label), "text": .string(text), "line": line.map(JSONValue.int),
                "reason": reason.map(JSONValue.string), "agent": agent.map(JSONValue.string),
            ]))
        return (r["version"]?.intValue ?? 0, r["value"]?.stringValue ?? "")
    }

    @discardableResult
    public func replace(
        _ ns: Namespace, label: String, old: String, new: String, reason: String? = nil, agent: String? = nil
    ) async throws(CairnError) -> (version: Int, value: String) {
        let r = try await call(
            "block.replace",
            Self.params([
                "ns": Wire.namespace(ns), "label": .string(label), "old": .string(old), "new": .string(new),
                "reason": reason.map(JSONValue.string), "agent": agent.map(JSONValue.string),
            ]))
        return (r["version"]?.intValue ?? 0, r["value"]?.stringValue ?? "")
    }

    @discardableResult
    public func rethink(
        _ ns: Namespace, label: String, value: String, ifVersion: Int? = nil, reason: String? = nil, agent: String? = nil
    ) async throws(CairnError) -> Int {
        try await call(
            "block.rethink",
            Self.params([
                "ns": Wire.namespace(ns), "label": .string(label), "value": .string(value),
                "if_version": ifVersion.map(JSONValue.int), "reason": reason.map(JSONValue.string),
                "agent": agent.map(JSONValue.string),
            ]))["version"]?.intValue ?? 0
    }

    @discardableResult
    public func deleteBlock(_ ns: Namespace, label: String, ifVersion: Int? = nil, reason: String? = nil) async throws(CairnError) -> DeleteResult {
        let r = try await call(
            "block.delete",
            Self.params([
                "ns": Wire.namespace(ns), "label": .string(label), "if_version": ifVersion.map(JSONValue.int),
                "reason": reason.map(JSONValue.string),
            ]))
        return DeleteResult(version: r["version"]?.intValue ?? 0, existed: r["existed"]?.boolValue ?? false)
    }

    public func listBlocks(_ scope: Scope, labelSearch: String? = nil, limit: Int? = nil, offset: Int? = nil) async throws(CairnError) -> [Item] {
        let r = try await call(
            "block.list",
            Self.params([
                "scope": Wire.scope(scope), "label_search": labelSearch.map(JSONValue.string), "limit": limit.map(JSONValue.int),
                "offset": offset.map(JSONValue.int),
            ]))
        var blocks: [Item] = []
        for json in r["blocks"]?.arrayValue ?? [] { blocks.append(try Wire.decodeItem(json)) }
        return blocks
    }

    public func attach(_ ns: Namespace, label: String, agent: String) async throws(CairnError) {
        _ = try await call("block.attach", ["ns": Wire.namespace(ns), "label": .string(label), "agent": .string(agent)])
    }

    public func detach(_ ns: Namespace, label: String, agent: String) async throws(CairnError) {
        _ = try await call("block.detach", ["ns": Wire.namespace(ns), "label": .string(label), "agent": .string(agent)])
    }

    public func blockAgents(_ ns: Namespace, label: String) async throws(CairnError) -> [String] {
        try await call("block.agents", ["ns": Wire.namespace(ns), "label": .string(label)])["agents"]?.arrayValue?
            .compactMap(\.stringValue) ?? []
    }

    public func agentBlocks(tenant: String, agent: String) async throws(CairnError) -> [Item] {
        let r = try await call("agent.blocks", ["tenant": .string(tenant), "agent": .string(agent)])
        var blocks: [Item] = []
        for json in r["blocks"]?.arrayValue ?? [] { blocks.append(try Wire.decodeItem(json)) }
        return blocks
    }

    public func agentContext(tenant: String, agent: String) async throws(CairnError) -> AgentContext {
        let r = try await call("agent.context", ["tenant": .string(tenant), "agent": .string(agent)])
        var blocks: [Item] = []
        for json in r["blocks"]?.arrayValue ?? [] { blocks.append(try Wire.decodeItem(json)) }
        return AgentContext(blocks: blocks, rendered: r["rendered"]?.stringValue ?? "", omitted: r["omitted"]?.intValue ?? 0)
    }
}
