import CairnCore
import CairnRedis

/// Versioned items under typed namespaces, in Redis.
///
/// Every write is a compare-and-set: it `WATCH`es the item, reads it, and commits the new
/// version, its history entry, the tenant's index and an entry in the tenant's change stream in
/// one `MULTI`/`EXEC`, so either all of them happen or none. All methods throw `CairnError`
/// only.
public final class Store: Sendable {
    /// The Redis client and the key layout are the package's own business: a library user
    /// reaches Redis only through the store's methods.
    package let redis: RedisPool
    public let options: StoreOptions
    package let layout: KeyLayout

    public init(redis: RedisPool, options: StoreOptions = StoreOptions()) {
        precondition(options.historyLimit >= 1, "historyLimit must be at least 1")
        precondition(options.streamLength >= 1, "streamLength must be at least 1")
        self.redis = redis
        self.options = options
        layout = KeyLayout(prefix: options.keyPrefix)
    }

    // MARK: - Writes

    /// Stores `value` as the next version of `key`.
    ///
    /// - `ifVersion: 0` writes only when the key is absent; `n >= 1` only when the current
    ///   version is `n`; otherwise `version_conflict` with the current version (0 if absent).
    /// - A block cannot be overwritten by `put` (`wrong_kind`).
    @discardableResult
    public func put(
        _ ns: Namespace, key: String, value: JSONValue, ifVersion: Int? = nil, by attribution: Attribution
    ) async throws(CairnError) -> PutResult {
        try await put(ns, key: key, value: value, ifVersion: ifVersion, by: attribution, request: nil).result
    }

    /// `put` with a request id: a replay answers the recorded result and writes nothing (see
    /// `optimistic(…request:…)`).
    @discardableResult
    public func put(
        _ ns: Namespace, key: String, value: JSONValue, ifVersion: Int? = nil, by attribution: Attribution, request: RequestID?
    ) async throws(CairnError) -> Recorded<PutResult> {
        try Key.validate(key)
        try validate(attribution)
        let text = try encodeValue(value)
        return try await commitWrite(
            ns: ns, key: key, attribution: attribution, readValue: false, request: requestTag(request, method: "put", ns: ns, key: key),
            result: { o in
                PutResult(
                    version: o.version, createdAt: Timestamp(millisecondsSince1970: o.createdMs),
                    updatedAt: Timestamp(millisecondsSince1970: o.updatedMs))
            }
        ) { context throws(CairnError) in
            let current = context.current
            if current.isLive, current.kind == .block { throw Store.wrongKind(key, is: .block) }
            try Store.check(ifVersion: ifVersion, current: current)
            return WritePlan(action: .write(valueText: text, kind: .item, block: nil), op: .put)
        }
    }

    /// Deletes `key`, leaving a tombstone so that versions keep counting. Deleting an absent key
    /// writes nothing and answers `existed: false`. A block is detached from every agent in the
    /// same transaction.
    @discardableResult
    public func delete(
        _ ns: Namespace, key: String, ifVersion: Int? = nil, by attribution: Attribution
    ) async throws(CairnError) -> DeleteResult {
        try await delete(ns, key: key, ifVersion: ifVersion, by: attribution, request: nil).result
    }

    /// `delete` with a request id.
    @discardableResult
    public func delete(
        _ ns: Namespace, key: String, ifVersion: Int? = nil, by attribution: Attribution, request: RequestID?
    ) async throws(CairnError) -> Recorded<DeleteResult> {
        try Key.validate(key)
        try validate(attribution)
        return try await deleteItem(ns, key: key, ifVersion: ifVersion, by: attribution, only: nil, request: requestTag(request, method: "delete", ns: ns, key: key))
    }

    /// Deletes an item or a block (`only` restricts the kind: `wrong_kind` otherwise).
    func deleteItem(
        _ ns: Namespace, key: String, ifVersion: Int?, by attribution: Attribution, only kind: ItemKind?, request: RequestTag?
    ) async throws(CairnError) -> Recorded<DeleteResult> {
        let attachmentsKey = layout.attachments(ns, key)
        let layout = self.layout
        return try await commitWrite(
            ns: ns, key: key, attribution: attribution, readValue: false, extraWatch: [attachmentsKey],
            extraReads: [["SMEMBERS", attachmentsKey]], request: request, result: { DeleteResult(version: $0.version, existed: $0.existed) }
        ) { context throws(CairnError) in
            let current = context.current
            if let kind, current.isLive, current.kind != kind { throw Store.wrongKind(key, is: current.kind ?? .item) }
            if ifVersion != 0 { try Store.check(ifVersion: ifVersion, current: current) }
            guard current.isLive else { return WritePlan(action: .nothing, op: .delete) }
            let agents = (context.extraReplies.first?.array ?? []).compactMap(\.string)
            var detach: [RedisCommand] = agents.map { ["HDEL", layout.agent(ns.tenant, $0), key] }
            if !agents.isEmpty { detach.append(["DEL", attachmentsKey]) }
            return WritePlan(action: .delete, op: .delete, extraCommands: detach)
        }
    }

    static func wrongKind(_ key: String, is kind: ItemKind) -> CairnError {
        kind == .block
            ? CairnError(.wrongKind, "\(key.debugDescription) is a block; use the block methods", data: ["field": "key"])
            : CairnError(.wrongKind, "\(key.debugDescription) is a plain item, not a block; use put/get", data: ["field": "label"])
    }

    static func check(ifVersion: Int?, current: StoredItem) throws(CairnError) {
        guard let expected = ifVersion else { return }
        if expected != current.liveVersion {
            throw CairnError.versionConflict(current: current.liveVersion, expected: expected)
        }
    }

    // MARK: - Reads

    /// The current item, or nil when the key is absent. With `version`, that version as it was
    /// written (nil when that version is a delete or was never written; `version_unavailable`
    /// when it is older than the kept history).
    public func get(_ ns: Namespace, key: String, version: Int? = nil) async throws(CairnError) -> Item? {
        try Key.validate(key)
        if let version, version < 1 { throw CairnError.invalidParams("version", "version must be at least 1") }
        let itemKey = layout.item(ns, key)
        let historyKey = layout.history(ns, key)
        if version == nil {
            // The common case: one read, automatically pipelined with other requests.
            return StoredItem(all: try await read(StoredItem.readAll(itemKey))).item(ns: ns, key: key)
        }
        return try await redisCall { connection -> Item? in
            for _ in 0..<8 {
                let stored = StoredItem(all: try await connection.send(StoredItem.readAll(itemKey)).checked())
                guard let version, version != stored.version else { return stored.item(ns: ns, key: key) }
                if version > stored.version { return nil }
                let index = stored.version - version
                let entryReply = try await connection.send(["LINDEX", historyKey, String(index)]).checked()
                guard let text = entryReply.string else {
                    throw CairnError(
                        .versionUnavailable,
                        "version \(version) of \(key.debugDescription) is older than the \(self.options.historyLimit) versions kept",
                        data: ["field": "version"])
                }
                guard let decoded = HistoryRecord.decode(text) else {
                    throw CairnError(.internalError, "history entry of \(key.debugDescription) cannot be read")
                }
                // A write between the two reads shifts the list: read again.
                guard decoded.entry.version == version else { continue }
                guard let value = decoded.entry.value else { return nil }
                return Item(
                    ns: ns, key: key, kind: decoded.kind, value: value, version: version,
                    createdAt: decoded.createdAt ?? decoded.entry.at, updatedAt: decoded.entry.at,
                    updatedBy: decoded.entry.by, agent: decoded.entry.agent, block: decoded.block, score: nil)
            }
            throw CairnError.unavailable("\(key.debugDescription) is changing too fast to read version \(version!); retry")
        }
    }

    // MARK: - Helpers

    func validate(_ attribution: Attribution) throws(CairnError) {
        if let agent = attribution.agent { try Key.validate(agent, field: "agent") }
        if let reason = attribution.reason, reason.utf8.count > options.maxReasonBytes {
            throw CairnError.invalidParams("reason", "reason is \(reason.utf8.count) bytes; the limit is \(options.maxReasonBytes)")
        }
    }

    /// The compact JSON text of a value, checked against the rules for values.
    func encodeValue(_ value: JSONValue, field: String = "value") throws(CairnError) -> String {
        if value.isNull {
            throw CairnError(.invalidValue, "\(field) must not be null; delete the key instead", data: ["field": .string(field)])
        }
        let text = value.serialized()
        let size = text.utf8.count
        if size > options.maxValueBytes {
            throw CairnError(
                .valueTooLarge, "\(field) is \(size) bytes as JSON; the limit is \(options.maxValueBytes)",
                data: ["field": .string(field), "limit": .int(options.maxValueBytes), "size": .int(size)])
        }
        return text
    }

    /// One read-only command on the shared pipelined connection, Redis failures as `CairnError`s.
    package func read(_ command: RedisCommand) async throws(CairnError) -> RedisValue {
        try await redis.read(command)
    }

    /// Runs `body` on a pooled Redis connection, turning Redis failures into `CairnError`s.
    func redisCall<T: Sendable>(
        _ body: (RedisChannelConnection) async throws -> T
    ) async throws(CairnError) -> T {
        try await redis.run(body)
    }

    /// The `CairnError` a client sees for a Redis failure.
    package static func translate(_ error: RedisError) -> CairnError {
        switch error.kind {
        case .connection:
            return .unavailable("Redis is unreachable (\(error.message)); nothing was written; retry", retryAfterMs: 500)
        case .outcomeUnknown:
            return .outcomeUnknown("Redis did not answer a write (\(error.message))")
        case .server:
            let transient = ["LOADING", "BUSY", "MASTERDOWN", "READONLY", "OOM", "TRYAGAIN", "CLUSTERDOWN"]
            if transient.contains(where: { error.message.hasPrefix($0) }) {
                return .unavailable("Redis cannot serve the request now (\(error.message)); retry", retryAfterMs: 500)
            }
            return CairnError(.internalError, "Redis refused a command: \(error.message)")
        case .configuration, .unexpectedReply:
            return CairnError(.internalError, error.message)
        }
    }
}
