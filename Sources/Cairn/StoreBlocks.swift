import CairnCore
import CairnRedis

/// A new block's text and properties.
public struct BlockDraft: Sendable, Hashable {
    public var value: String
    public var properties: BlockProperties

    public init(value: String = "", properties: BlockProperties = BlockProperties()) {
        self.value = value
        self.properties = properties
    }
}

/// A `block.update`: each non-nil field replaces the stored one.
public struct BlockChanges: Sendable, Hashable {
    public var value: String?
    /// An empty description removes it.
    public var description: String?
    public var limit: Int?
    public var readOnly: Bool?
    public var metadata: JSONValue?

    public init(value: String? = nil, description: String? = nil, limit: Int? = nil, readOnly: Bool? = nil, metadata: JSONValue? = nil) {
        self.value = value
        self.description = description
        self.limit = limit
        self.readOnly = readOnly
        self.metadata = metadata
    }
}

/// The largest character limit a block may have.
public let maximumBlockLimit = 1_000_000

/// Shared memory blocks: text items with a label (their key), a character limit and a
/// read-only flag, edited atomically against the value stored at the moment of the edit.
extension Store {
    // MARK: - Create, read, list

    /// Creates a block (and attaches it to `agents` in the same transaction). A live item or
    /// block with that label → `version_conflict`.
    public func createBlock(
        _ ns: Namespace, label: String, _ draft: BlockDraft, agents: [String] = [], by attribution: Attribution
    ) async throws(CairnError) -> Item {
        try await createBlock(ns, label: label, draft, agents: agents, by: attribution, request: nil).result
    }

    /// `createBlock` with a request id.
    public func createBlock(
        _ ns: Namespace, label: String, _ draft: BlockDraft, agents: [String] = [], by attribution: Attribution, request: RequestID?
    ) async throws(CairnError) -> Recorded<Item> {
        try Key.validate(label, field: "label")
        try validate(attribution)
        try Store.checkProperties(draft.properties)
        for agent in agents { try Key.validate(agent, field: "agents") }
        try BlockText.checkLimit(draft.value, limit: draft.properties.limit)
        let text = try encodeValue(.string(draft.value))
        let layout = self.layout
        let agents = Array(Set(agents.map { Name($0) })).sorted().map(\.string)  // distinct by bytes, in byte order
        let member = layout.member(ns, label)
        let agentKeys = agents.map { layout.agent(ns.tenant, $0) }
        let created = try await commitWrite(
            ns: ns, key: label, attribution: attribution, readValue: false, extraWatch: agentKeys,
            extraReads: agentKeys.map { ["HGET", $0, label] }, request: requestTag(request, method: "block.create", ns: ns, key: label),
            result: { outcome in
                CreatedBlock(
                    Item(
                        ns: ns, key: label, kind: .block, value: .string(draft.value), version: outcome.version,
                        createdAt: Timestamp(millisecondsSince1970: outcome.createdMs),
                        updatedAt: Timestamp(millisecondsSince1970: outcome.updatedMs), updatedBy: attribution.principal,
                        agent: attribution.agent, block: draft.properties))
            }
        ) { context throws(CairnError) in
            if context.current.isLive { throw CairnError.versionConflict(current: context.current.version, expected: 0) }
            for (agent, reply) in zip(agents, context.extraReplies) where reply.string != nil {
                throw Store.labelTaken(label, agent: agent)
            }
            var attach: [RedisCommand] = []
            for agent in agents {
                attach.append(["HSET", layout.agent(ns.tenant, agent), label, member])
                attach.append(["SADD", layout.attachments(ns, label), agent])
            }
            return WritePlan(action: .write(valueText: text, kind: .block, block: draft.properties), op: .create, extraCommands: attach)
        }
        return Recorded(created.result.item, replayed: created.replayed)
    }

    /// The block (or a kept version of it); `not_found` when absent, `wrong_kind` for a plain item.
    public func block(_ ns: Namespace, label: String, version: Int? = nil) async throws(CairnError) -> Item {
        try Key.validate(label, field: "label")
        guard let item = try await get(ns, key: label, version: version) else { throw Store.noBlock(label, ns) }
        guard item.kind == .block else { throw Store.wrongKind(label, is: item.kind) }
        return item
    }

    /// Blocks in `scope`, optionally those whose label contains `labelSearch` (case-insensitive),
    /// ordered by namespace then label.
    public func listBlocks(
        _ scope: Scope, labelSearch: String? = nil, limit: Int = 50, offset: Int = 0
    ) async throws(CairnError) -> [Item] {
        try Store.checkPage(limit: limit, offset: offset)
        let indexKey = layout.index(scope.tenant)
        let layout = self.layout
        let needle = labelSearch?.lowercased()
        return try await redisCall { connection -> [Item] in
            let members = try await connection.send(["ZRANGE", indexKey, "0", "-1"]).checked().array ?? []
            var candidates: [(Namespace, String)] = []
            for m in members {
                guard let text = m.string, let (ns, key) = layout.decodeMember(text, tenant: scope.tenant), scope.contains(ns)
                else { continue }
                if let needle, !key.lowercased().contains(needle) { continue }
                candidates.append((ns, key))
            }
            // Only the kind is needed to choose; read it first, then the page's blocks.
            let kinds = try await connection.pipeline(candidates.map { ["HGET", layout.item($0.0, $0.1), ItemField.kind] })
            var blocks = zip(candidates, kinds).filter { $0.1.string == ItemKind.block.rawValue }.map(\.0)
            blocks.sort { Store.precedes($0.0, $0.1, $1.0, $1.1) }
            let page = Array(blocks.dropFirst(offset).prefix(limit))
            return try await Store.readItems(connection, layout: layout, page).compactMap { $0 }.filter { $0.kind == .block }
        }
    }

    // MARK: - Edits

    /// Inserts `text` as new line(s) after line `line` (0 top, -1 end) of the block's current
    /// text. Concurrent inserts all land. Needs `admin` on a read-only block.
    public func insertIntoBlock(
        _ ns: Namespace, label: String, text: String, line: Int = -1, by attribution: Attribution, admin: Bool = false
    ) async throws(CairnError) -> (version: Int, value: String) {
        let r = try await insertIntoBlock(ns, label: label, text: text, line: line, by: attribution, admin: admin, request: nil).result
        return (r.version, r.value)
    }

    /// `insertIntoBlock` with a request id: a replay never inserts the text twice.
    public func insertIntoBlock(
        _ ns: Namespace, label: String, text: String, line: Int = -1, by attribution: Attribution, admin: Bool = false,
        request: RequestID?
    ) async throws(CairnError) -> Recorded<(version: Int, value: String)> {
        try await editBlock(ns, label, op: .insert, method: "block.insert", by: attribution, admin: admin, request: request) {
            current throws(CairnError) in try BlockText.insert(text, into: current, afterLine: line)
        }
    }

    /// Replaces the single occurrence of `old` in the block's current text with `new`.
    public func replaceInBlock(
        _ ns: Namespace, label: String, old: String, new: String, by attribution: Attribution, admin: Bool = false
    ) async throws(CairnError) -> (version: Int, value: String) {
        let r = try await replaceInBlock(ns, label: label, old: old, new: new, by: attribution, admin: admin, request: nil).result
        return (r.version, r.value)
    }

    /// `replaceInBlock` with a request id.
    public func replaceInBlock(
        _ ns: Namespace, label: String, old: String, new: String, by attribution: Attribution, admin: Bool = false,
        request: RequestID?
    ) async throws(CairnError) -> Recorded<(version: Int, value: String)> {
        guard !old.isEmpty else { throw CairnError.invalidParams("old", "old must not be empty; use block.insert to add text") }
        return try await editBlock(ns, label, op: .replace, method: "block.replace", by: attribution, admin: admin, request: request) {
            current throws(CairnError) in try BlockText.replace(old, with: new, in: current)
        }
    }

    /// Rewrites the whole text: last writer wins, unless `ifVersion` is given.
    public func rethinkBlock(
        _ ns: Namespace, label: String, value: String, ifVersion: Int? = nil, by attribution: Attribution, admin: Bool = false
    ) async throws(CairnError) -> Int {
        try await rethinkBlock(ns, label: label, value: value, ifVersion: ifVersion, by: attribution, admin: admin, request: nil).result
    }

    /// `rethinkBlock` with a request id.
    public func rethinkBlock(
        _ ns: Namespace, label: String, value: String, ifVersion: Int? = nil, by attribution: Attribution, admin: Bool = false,
        request: RequestID?
    ) async throws(CairnError) -> Recorded<Int> {
        let r = try await editBlock(
            ns, label, op: .rethink, method: "block.rethink", ifVersion: ifVersion, by: attribution, admin: admin, request: request
        ) { _ throws(CairnError) in value }
        return Recorded(r.result.version, replayed: r.replayed)
    }

    /// Changes text and/or properties. Changing `limit` or `read_only`, or anything of a
    /// read-only block, needs `admin`. Changing nothing writes nothing and answers the current
    /// version.
    public func updateBlock(
        _ ns: Namespace, label: String, _ changes: BlockChanges, ifVersion: Int? = nil, by attribution: Attribution,
        admin: Bool = false
    ) async throws(CairnError) -> Int {
        try await updateBlock(ns, label: label, changes, ifVersion: ifVersion, by: attribution, admin: admin, request: nil).result
    }

    /// `updateBlock` with a request id.
    public func updateBlock(
        _ ns: Namespace, label: String, _ changes: BlockChanges, ifVersion: Int? = nil, by attribution: Attribution,
        admin: Bool = false, request: RequestID?
    ) async throws(CairnError) -> Recorded<Int> {
        try Key.validate(label, field: "label")
        try validate(attribution)
        if let limit = changes.limit { try Store.checkLimitValue(limit) }
        if let value = changes.value { _ = try encodeValue(.string(value)) }
        let options = self.options
        let updated = try await commitWrite(
            ns: ns, key: label, attribution: attribution, readValue: true,
            request: requestTag(request, method: "block.update", ns: ns, key: label), result: { VersionResult(version: $0.version) }
        ) { context throws(CairnError) in
            let (current, properties) = try Store.liveBlock(context.current, ns, label)
            try Store.check(ifVersion: ifVersion, current: context.current)
            var next = properties
            if let d = changes.description { next.description = d.isEmpty ? nil : d }
            if let m = changes.metadata { next.metadata = m }
            if let l = changes.limit { next.limit = l }
            if let r = changes.readOnly { next.readOnly = r }
            let text = changes.value ?? current
            guard text != current || next != properties else { return WritePlan(action: .nothing, op: .update) }
            if !admin {
                if properties.readOnly { throw Store.readOnly(label) }
                if next.limit != properties.limit || next.readOnly != properties.readOnly {
                    throw CairnError(.forbidden, "changing a block's limit or read_only needs the admin grant", data: ["grant": "admin"])
                }
            }
            try BlockText.checkLimit(text, limit: next.limit)
            let json = JSONValue.string(text).serialized()
            try Store.checkSize(json, options: options)
            return WritePlan(action: .write(valueText: json, kind: .block, block: next), op: .update)
        }
        return Recorded(updated.result.version, replayed: updated.replayed)
    }

    /// Deletes a block and detaches it from every agent.
    @discardableResult
    public func deleteBlock(_ ns: Namespace, label: String, ifVersion: Int? = nil, by attribution: Attribution) async throws(CairnError) -> DeleteResult {
        try await deleteBlock(ns, label: label, ifVersion: ifVersion, by: attribution, request: nil).result
    }

    /// `deleteBlock` with a request id.
    public func deleteBlock(
        _ ns: Namespace, label: String, ifVersion: Int? = nil, by attribution: Attribution, request: RequestID?
    ) async throws(CairnError) -> Recorded<DeleteResult> {
        try Key.validate(label, field: "label")
        try validate(attribution)
        return try await deleteItem(
            ns, key: label, ifVersion: ifVersion, by: attribution, only: .block,
            request: requestTag(request, method: "block.delete", ns: ns, key: label))
    }

    /// Applies `edit` to the block's text as stored at commit time (retried if it changed).
    func editBlock(
        _ ns: Namespace, _ label: String, op: WriteOp, method: String, ifVersion: Int? = nil, by attribution: Attribution, admin: Bool,
        request: RequestID?, _ edit: @escaping @Sendable (String) throws(CairnError) -> String
    ) async throws(CairnError) -> Recorded<(version: Int, value: String)> {
        try Key.validate(label, field: "label")
        try validate(attribution)
        let options = self.options
        let edited = try await commitWrite(
            ns: ns, key: label, attribution: attribution, readValue: true, request: requestTag(request, method: method, ns: ns, key: label),
            result: { outcome in
                EditResult(version: outcome.version, value: outcome.valueText.flatMap { try? JSONValue(parsing: $0) }?.stringValue ?? "")
            }
        ) { context throws(CairnError) in
            let (current, properties) = try Store.liveBlock(context.current, ns, label)
            try Store.check(ifVersion: ifVersion, current: context.current)
            if properties.readOnly && !admin { throw Store.readOnly(label) }
            let text = try edit(current)
            try BlockText.checkLimit(text, limit: properties.limit)
            let json = JSONValue.string(text).serialized()
            try Store.checkSize(json, options: options)
            return WritePlan(action: .write(valueText: json, kind: .block, block: properties), op: op)
        }
        return Recorded((edited.result.version, edited.result.value), replayed: edited.replayed)
    }

    // MARK: - Attachments

    /// Attaches a block to an agent. Twice is a no-op; another block with the same label on that
    /// agent → `label_taken`.
    public func attach(_ ns: Namespace, label: String, agent: String, by attribution: Attribution) async throws(CairnError) {
        _ = try await changeAttachment(ns, label: label, agent: agent, attach: true, by: attribution, request: nil)
    }

    /// `attach` with a request id; answers whether it is a replay.
    public func attach(
        _ ns: Namespace, label: String, agent: String, by attribution: Attribution, request: RequestID?
    ) async throws(CairnError) -> Recorded<Void> {
        try await changeAttachment(ns, label: label, agent: agent, attach: true, by: attribution, request: request)
    }

    /// Detaches a block from an agent (a no-op when it is not attached).
    public func detach(_ ns: Namespace, label: String, agent: String, by attribution: Attribution) async throws(CairnError) {
        _ = try await changeAttachment(ns, label: label, agent: agent, attach: false, by: attribution, request: nil)
    }

    /// `detach` with a request id; answers whether it is a replay.
    public func detach(
        _ ns: Namespace, label: String, agent: String, by attribution: Attribution, request: RequestID?
    ) async throws(CairnError) -> Recorded<Void> {
        try await changeAttachment(ns, label: label, agent: agent, attach: false, by: attribution, request: request)
    }

    func changeAttachment(
        _ ns: Namespace, label: String, agent: String, attach: Bool, by attribution: Attribution, request: RequestID?
    ) async throws(CairnError) -> Recorded<Void> {
        try Key.validate(label, field: "label")
        try Key.validate(agent, field: "agent")
        let layout = self.layout
        let options = self.options
        let itemKey = layout.item(ns, label)
        let agentKey = layout.agent(ns.tenant, agent)
        let attachmentsKey = layout.attachments(ns, label)
        let member = layout.member(ns, label)
        let record = Attribution(principal: attribution.principal, agent: agent, reason: attribution.reason)
        let changed = try await optimistic(
            watch: [itemKey, agentKey], reads: [RedisCommand(["HMGET", itemKey] + ItemField.header), ["HGET", agentKey, label], ["TIME"]],
            what: "agent \(agent.debugDescription)",
            request: requestTag(request, method: attach ? "block.attach" : "block.detach", ns: ns, key: label)
        ) { replies throws(CairnError) -> Decision<EmptyResult> in
            let stored = StoredItem(header: replies[0])
            _ = try Store.liveBlock(stored, ns, label, needValue: false)
            let attachedTo = replies[1].string
            let now = max(Store.milliseconds(fromTime: replies[2]), stored.updatedMs)
            let event = Store.streamCommand(
                layout: layout, options: options, ns: ns, key: label, kind: .block, version: stored.version,
                op: attach ? .attach : .detach, atMs: now, attribution: record)
            if attach {
                if attachedTo == member { return .done(EmptyResult()) }
                if attachedTo != nil { throw Store.labelTaken(label, agent: agent) }
                return .commit([["HSET", agentKey, label, member], ["SADD", attachmentsKey, agent], event], EmptyResult())
            } else {
                guard attachedTo == member else { return .done(EmptyResult()) }
                return .commit([["HDEL", agentKey, label], ["SREM", attachmentsKey, agent], event], EmptyResult())
            }
        }
        return Recorded((), replayed: changed.replayed)
    }

    /// The agents a block is attached to, sorted.
    public func agents(of ns: Namespace, label: String) async throws(CairnError) -> [String] {
        _ = try await block(ns, label: label)
        let key = layout.attachments(ns, label)
        let reply = try await redisCall { try await $0.send(["SMEMBERS", key]).checked() }
        return (reply.array ?? []).compactMap(\.string).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Every block attached to `agent`, all read at one instant (one `MULTI`/`EXEC`), sorted by
    /// label. The versions returned existed together at that instant.
    public func agentContext(tenant: String, agent: String) async throws(CairnError) -> [Item] {
        try Namespace.validateComponent(tenant, field: "tenant")
        try Key.validate(agent, field: "agent")
        let layout = self.layout
        let agentKey = layout.agent(tenant, agent)
        return try await redisCall { connection -> [Item] in
            var mapping = try await connection.send(["HGETALL", agentKey]).checked().nameMap ?? [:]
            for _ in 0..<16 {
                let members = mapping.sorted { $0.key < $1.key }
                let addresses = members.compactMap { layout.decodeMember($0.value, tenant: tenant) }
                let outcome = try await connection.transaction(
                    [["HGETALL", agentKey]] + addresses.map { StoredItem.readAll(layout.item($0.0, $0.1)) }, readOnly: true)
                guard case .committed(let replies) = outcome else { continue }
                let seen = replies[0].nameMap ?? [:]
                if seen != mapping {
                    mapping = seen  // attachments changed between the two reads: read again
                    continue
                }
                return zip(addresses, replies.dropFirst()).compactMap { address, reply in
                    StoredItem(all: reply).item(ns: address.0, key: address.1)
                }.filter { $0.kind == .block }
            }
            throw CairnError.unavailable("the attachments of agent \(agent.debugDescription) are changing too fast; retry")
        }
    }

    // MARK: - Checks

    /// The live block's text and properties, or the error for what it is instead.
    static func liveBlock(_ stored: StoredItem, _ ns: Namespace, _ label: String, needValue: Bool = true) throws(CairnError) -> (String, BlockProperties) {
        guard stored.isLive else { throw noBlock(label, ns) }
        guard stored.kind == .block, let properties = stored.block else { throw wrongKind(label, is: stored.kind ?? .item) }
        guard needValue else { return ("", properties) }
        guard let text = stored.valueText.flatMap({ try? JSONValue(parsing: $0) })?.stringValue else {
            throw CairnError(.internalError, "block \(label.debugDescription) holds a value that is not text")
        }
        return (text, properties)
    }

    static func noBlock(_ label: String, _ ns: Namespace) -> CairnError {
        CairnError(.notFound, "no block \(label.debugDescription) in \(ns)")
    }

    static func readOnly(_ label: String) -> CairnError {
        CairnError(.readOnly, "block \(label.debugDescription) is read-only; only a token with the admin grant may edit it")
    }

    static func labelTaken(_ label: String, agent: String) -> CairnError {
        CairnError(
            .labelTaken, "agent \(agent.debugDescription) already has a block labelled \(label.debugDescription); detach it first",
            data: ["agent": .string(agent), "label": .string(label)])
    }

    static func checkLimitValue(_ limit: Int) throws(CairnError) {
        guard (1...maximumBlockLimit).contains(limit) else {
            throw CairnError.invalidParams("limit", "limit must be between 1 and \(maximumBlockLimit) characters")
        }
    }

    static func checkProperties(_ p: BlockProperties) throws(CairnError) {
        try checkLimitValue(p.limit)
        if let m = p.metadata, m.isNull { throw CairnError.invalidParams("metadata", "metadata must not be null") }
    }

    static func checkSize(_ json: String, options: StoreOptions) throws(CairnError) {
        let size = json.utf8.count
        if size > options.maxValueBytes {
            throw CairnError(
                .valueTooLarge, "the block's text would be \(size) bytes as JSON; the limit is \(options.maxValueBytes)",
                data: ["field": "value", "limit": .int(options.maxValueBytes), "size": .int(size)])
        }
    }
}
