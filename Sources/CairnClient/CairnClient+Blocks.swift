import CairnCore
import CairnProtocol

extension CairnClient {
    @discardableResult
    public func createBlock(
        _ ns: Namespace, label: String, value: String = "", description: String? = nil, limit: Int? = nil,
        readOnly: Bool? = nil, metadata: JSONValue? = nil, agents: [String]? = nil, reason: String? = nil,
        agent: String? = nil
    ) async throws(CairnError) -> Item {
        try await send(
            RPC.BlockCreate(
                ns, label: label, value: value, description: description, limit: limit ?? RPC.BlockCreate.defaultLimit,
                readOnly: readOnly ?? false, metadata: metadata, agents: agents ?? [], reason: reason, agent: agent))
    }

    public func block(_ ns: Namespace, label: String, version: Int? = nil) async throws(CairnError) -> Item {
        try await send(RPC.BlockGet(ns, label: label, version: version))
    }

    @discardableResult
    public func updateBlock(
        _ ns: Namespace, label: String, value: String? = nil, description: String? = nil, limit: Int? = nil,
        readOnly: Bool? = nil, metadata: JSONValue? = nil, ifVersion: Int? = nil, reason: String? = nil, agent: String? = nil
    ) async throws(CairnError) -> Int {
        try await send(
            RPC.BlockUpdate(
                ns, label: label, value: value, description: description, limit: limit, readOnly: readOnly, metadata: metadata,
                ifVersion: ifVersion, reason: reason, agent: agent))
    }

    /// Inserts `text` after line `line` (0 top, -1 end) of the block's current text.
    @discardableResult
    public func insert(
        _ ns: Namespace, label: String, text: String, line: Int? = nil, reason: String? = nil, agent: String? = nil
    ) async throws(CairnError) -> (version: Int, value: String) {
        let edit = try await send(
            RPC.BlockInsert(ns, label: label, text: text, line: line ?? RPC.BlockInsert.defaultLine, reason: reason, agent: agent))
        return (edit.version, edit.value)
    }

    @discardableResult
    public func replace(
        _ ns: Namespace, label: String, old: String, new: String, reason: String? = nil, agent: String? = nil
    ) async throws(CairnError) -> (version: Int, value: String) {
        let edit = try await send(RPC.BlockReplace(ns, label: label, old: old, new: new, reason: reason, agent: agent))
        return (edit.version, edit.value)
    }

    @discardableResult
    public func rethink(
        _ ns: Namespace, label: String, value: String, ifVersion: Int? = nil, reason: String? = nil, agent: String? = nil
    ) async throws(CairnError) -> Int {
        try await send(RPC.BlockRethink(ns, label: label, value: value, ifVersion: ifVersion, reason: reason, agent: agent))
    }

    @discardableResult
    public func deleteBlock(_ ns: Namespace, label: String, ifVersion: Int? = nil, reason: String? = nil) async throws(CairnError) -> DeleteResult {
        try await send(RPC.BlockDelete(ns, label: label, ifVersion: ifVersion, reason: reason))
    }

    public func listBlocks(_ scope: Scope, labelSearch: String? = nil, limit: Int? = nil, offset: Int? = nil) async throws(CairnError) -> [Item] {
        try await send(RPC.BlockList(scope, labelSearch: labelSearch, limit: limit ?? RPC.BlockList.defaultLimit, offset: offset ?? 0))
    }

    public func attach(_ ns: Namespace, label: String, agent: String) async throws(CairnError) {
        try await send(RPC.BlockAttach(ns, label: label, agent: agent))
    }

    public func detach(_ ns: Namespace, label: String, agent: String) async throws(CairnError) {
        try await send(RPC.BlockDetach(ns, label: label, agent: agent))
    }

    public func blockAgents(_ ns: Namespace, label: String) async throws(CairnError) -> [String] {
        try await send(RPC.BlockAgents(ns, label: label))
    }

    public func agentBlocks(tenant: String, agent: String) async throws(CairnError) -> [Item] {
        try await send(RPC.AgentBlocks(tenant: tenant, agent: agent)).blocks
    }

    public func agentContext(tenant: String, agent: String) async throws(CairnError) -> AgentContext {
        try await send(RPC.AgentContext(tenant: tenant, agent: agent))
    }
}
