/// What an item is: a plain JSON record, or a shared memory block (text with a label).
public enum ItemKind: String, Sendable, Hashable {
    case item
    case block
}

/// The properties a block carries beside its text.
public struct BlockProperties: Sendable, Hashable {
    public var description: String?
    /// Most characters (Unicode code points) the text may hold.
    public var limit: Int
    public var readOnly: Bool
    public var metadata: JSONValue?

    public init(description: String? = nil, limit: Int = 5000, readOnly: Bool = false, metadata: JSONValue? = nil) {
        self.description = description
        self.limit = limit
        self.readOnly = readOnly
        self.metadata = metadata
    }
}

/// One stored item at one version.
public struct Item: Sendable, Hashable {
    public var ns: Namespace
    /// The key (for a block, its label), compared by bytes.
    public var key: Name
    public var kind: ItemKind
    public var value: JSONValue
    public var version: Int
    public var createdAt: Timestamp
    public var updatedAt: Timestamp
    /// The principal whose write made this version.
    public var updatedBy: String
    /// The agent the write named, if any.
    public var agent: String?
    /// For blocks: label is `key`; these are the rest.
    public var block: BlockProperties?
    /// Relevance, when the item came from a `search` with a query.
    public var score: Double?

    public init(
        ns: Namespace, key: String, kind: ItemKind, value: JSONValue, version: Int, createdAt: Timestamp,
        updatedAt: Timestamp, updatedBy: String, agent: String? = nil, block: BlockProperties? = nil, score: Double? = nil
    ) {
        self.ns = ns
        self.key = Name(key)
        self.kind = kind
        self.value = value
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.updatedBy = updatedBy
        self.agent = agent
        self.block = block
        self.score = score
    }
}

/// Who writes, for which agent, and why: recorded with every write.
public struct Attribution: Sendable, Hashable {
    /// The authenticated principal (a server takes it from the token, never from the request).
    public var principal: String
    /// The agent the write is made for, as the client names it.
    public var agent: String?
    /// Why, in the writer's words.
    public var reason: String?

    public init(principal: String, agent: String? = nil, reason: String? = nil) {
        self.principal = principal
        self.agent = agent
        self.reason = reason
    }
}

/// The method that made a write, as recorded in history, the audit log and events.
public enum WriteOp: String, Sendable, Hashable, CaseIterable {
    case put, delete, create, update, insert, replace, rethink, attach, detach
}

public struct PutResult: Sendable, Hashable {
    public var version: Int
    public var createdAt: Timestamp
    public var updatedAt: Timestamp

    public init(version: Int, createdAt: Timestamp, updatedAt: Timestamp) {
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

public struct DeleteResult: Sendable, Hashable {
    /// The tombstone's version, or the current version when nothing was deleted (0 if the key
    /// never existed).
    public var version: Int
    public var existed: Bool

    public init(version: Int, existed: Bool) {
        self.version = version
        self.existed = existed
    }
}

/// One kept version of one item.
public struct HistoryEntry: Sendable, Hashable {
    public var version: Int
    public var op: WriteOp
    public var at: Timestamp
    public var by: String
    public var agent: String?
    public var reason: String?
    /// The value after the write; nil for a delete.
    public var value: JSONValue?

    public init(version: Int, op: WriteOp, at: Timestamp, by: String, agent: String?, reason: String?, value: JSONValue?) {
        self.version = version
        self.op = op
        self.at = at
        self.by = by
        self.agent = agent
        self.reason = reason
        self.value = value
    }
}

/// One entry of the tenant's audit log (its change stream).
public struct LogEntry: Sendable, Hashable {
    /// The stream id: a total order over the tenant's writes, usable as a resume cursor.
    public var cursor: String
    public var ns: Namespace
    /// The key (for a block, its label), compared by bytes.
    public var key: Name
    public var kind: ItemKind
    public var version: Int
    public var op: WriteOp
    public var at: Timestamp
    /// The principal that wrote, compared by bytes (`log`'s `by` filter).
    public var by: Name
    public var agent: String?
    public var reason: String?

    /// `write` or `delete`.
    public var type: String { op == .delete ? "delete" : "write" }

    public init(
        cursor: String, ns: Namespace, key: String, kind: ItemKind, version: Int, op: WriteOp, at: Timestamp, by: String,
        agent: String?, reason: String?
    ) {
        self.cursor = cursor
        self.ns = ns
        self.key = Name(key)
        self.kind = kind
        self.version = version
        self.op = op
        self.at = at
        self.by = Name(by)
        self.agent = agent
        self.reason = reason
    }
}
