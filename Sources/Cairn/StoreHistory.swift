import CairnCore
import CairnRedis

extension Store {
    /// Kept versions of one item, newest first: `limit` entries older than `beforeVersion`.
    public func history(
        _ ns: Namespace, key: String, limit: Int = 20, beforeVersion: Int? = nil
    ) async throws(CairnError) -> [HistoryEntry] {
        try Key.validate(key)
        try Store.checkPage(limit: limit, offset: 0)
        if let beforeVersion, beforeVersion < 1 {
            throw CairnError.invalidParams("before_version", "before_version must be at least 1")
        }
        let itemKey = layout.item(ns, key)
        let historyKey = layout.history(ns, key)
        return try await redisCall { connection -> [HistoryEntry] in
            try await Self.readHistory(connection, itemKey: itemKey, historyKey: historyKey, key: key, limit: limit, beforeVersion: beforeVersion)
        }
    }

    /// `history`'s reads on one lent connection. Not optimized: Swift 6.3.1's optimizer crashes
    /// (signal 11 in LLVM's coroutine splitting, `emitSetAndGetSwiftErrorValueAround`) on this
    /// body in release builds, inlined into the closure or not. `scripts/test` builds cairnd in
    /// release mode so that a crash like it cannot land unnoticed.
    @_optimize(none)
    private static func readHistory(
        _ connection: RedisChannelConnection, itemKey: String, historyKey: String, key: String, limit: Int, beforeVersion: Int?
    ) async throws -> [HistoryEntry] {
        var version = try await connection.send(["HGET", itemKey, ItemField.version]).checked().int ?? 0
        for _ in 0..<8 {
            if version == 0 { return [] }
            let newest = min(version, (beforeVersion ?? (version + 1)) - 1)
            if newest < 1 { return [] }
            let start = version - newest
            let outcome = try await connection.transaction([
                ["HGET", itemKey, ItemField.version],
                ["LRANGE", historyKey, String(start), String(start + limit - 1)],
            ], readOnly: true)
            guard case .committed(let replies) = outcome else { continue }
            let seen = replies[0].int ?? 0
            if seen != version {
                version = seen  // a write came in between: the list shifted
                continue
            }
            return (replies[1].array ?? []).compactMap { $0.string.flatMap(HistoryRecord.decode)?.entry }
        }
        throw CairnError.unavailable("\(key.debugDescription) is changing too fast to read its history; retry")
    }

    /// The audit log of `scope`: writes in commit order (oldest first), optionally from `since`,
    /// up to `until`, by one principal, or after a cursor from an earlier page.
    public func log(
        _ scope: Scope, since: Timestamp? = nil, until: Timestamp? = nil, by principal: String? = nil,
        after cursor: String? = nil, limit: Int = 100
    ) async throws(CairnError) -> [LogEntry] {
        try Store.checkPage(limit: limit, offset: 0)
        if let cursor, StreamCursor(cursor) == nil {
            throw CairnError.invalidParams("after", "after must be a cursor from an earlier log entry or event")
        }
        let streamKey = layout.stream(scope.tenant)
        let first = cursor.map { "(" + $0 } ?? since.map { String($0.millisecondsSince1970) } ?? "-"
        // `at` is read from Redis's clock just before EXEC, so an entry's id is a little after its `at`.
        let end = until.map { String($0.millisecondsSince1970 + 5000) } ?? "+"
        return try await redisCall { connection -> [LogEntry] in
            var start = first
            var entries: [LogEntry] = []
            while entries.count < limit {
                let reply = try await connection.send(["XRANGE", streamKey, start, end, "COUNT", "500"]).checked()
                let batch = reply.array ?? []
                for raw in batch {
                    guard let pair = raw.array, pair.count == 2, let id = pair[0].string else { continue }
                    start = "(" + id
                    guard let entry = StreamRecord.decode(id: id, fields: pair[1].fieldMap ?? [:], tenant: scope.tenant.string),
                        scope.contains(entry.ns)
                    else { continue }
                    if let since, entry.at < since { continue }
                    if let until, entry.at > until { continue }
                    if let principal, entry.by != Name(principal) { continue }
                    entries.append(entry)
                    if entries.count == limit { break }
                }
                if batch.count < 500 { break }
            }
            return entries
        }
    }
}

/// A position in a tenant's change stream: a Redis stream id `ms-seq`.
public struct StreamCursor: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let milliseconds: UInt64
    public let sequence: UInt64

    /// Before every entry.
    public static let start = StreamCursor(milliseconds: 0, sequence: 0)

    public init(milliseconds: UInt64, sequence: UInt64) {
        self.milliseconds = milliseconds
        self.sequence = sequence
    }

    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let ms = UInt64(parts[0]), let seq = UInt64(parts[1]) else { return nil }
        milliseconds = ms
        sequence = seq
    }

    public var description: String { "\(milliseconds)-\(sequence)" }

    /// The greatest cursor before this one.
    public var predecessor: StreamCursor {
        if sequence > 0 { return StreamCursor(milliseconds: milliseconds, sequence: sequence - 1) }
        if milliseconds > 0 { return StreamCursor(milliseconds: milliseconds - 1, sequence: UInt64.max) }
        return self
    }

    public static func < (a: StreamCursor, b: StreamCursor) -> Bool {
        (a.milliseconds, a.sequence) < (b.milliseconds, b.sequence)
    }
}

/// What a tenant's change stream holds right now.
public struct StreamBounds: Sendable, Hashable {
    /// The newest entry's id (`start` when the stream is empty or absent).
    public var head: StreamCursor
    /// The newest id trimmed away (`start` when nothing was trimmed): a cursor older than this
    /// has lost entries.
    public var trimmedThrough: StreamCursor
}

extension Store {
    /// Up to `count` entries of the tenant's change stream after `cursor`, oldest first. An
    /// entry that cannot be decoded comes back with a nil entry (so the reader still moves on).
    public func readStream(
        tenant: String, after cursor: StreamCursor, count: Int
    ) async throws(CairnError) -> [(cursor: StreamCursor, entry: LogEntry?)] {
        let key = layout.stream(tenant)
        let reply = try await read(["XRANGE", key, "(\(cursor)", "+", "COUNT", String(count)])
        return (reply.array ?? []).compactMap { raw in
            guard let pair = raw.array, pair.count == 2, let id = pair[0].string, let position = StreamCursor(id) else { return nil }
            return (position, StreamRecord.decode(id: id, fields: pair[1].fieldMap ?? [:], tenant: tenant))
        }
    }

    /// The newest entry and the trim point of the tenant's change stream.
    public func streamBounds(tenant: String) async throws(CairnError) -> StreamBounds {
        let key = layout.stream(tenant)
        let reply = try await redisCall { connection -> RedisValue in
            let info = try await connection.send(["XINFO", "STREAM", key])
            if case .error = info { return .null }  // no such key: nothing written yet
            return info
        }
        guard let fields = reply.fieldMap else { return StreamBounds(head: .start, trimmedThrough: .start) }
        let deleted = fields["max-deleted-entry-id"].flatMap(StreamCursor.init) ?? .start
        // Trimming (XADD MAXLEN) removes the oldest entries without moving max-deleted-entry-id:
        // when fewer entries are left than were ever added, everything before the first kept
        // entry is gone.
        var trimmed = StreamCursor.start
        if let added = fields["entries-added"].flatMap({ Int($0) }), let length = fields["length"].flatMap({ Int($0) }),
            added > length, let first = fields["recorded-first-entry-id"].flatMap(StreamCursor.init)
        {
            trimmed = first.predecessor
        }
        return StreamBounds(
            head: fields["last-generated-id"].flatMap(StreamCursor.init) ?? .start, trimmedThrough: max(deleted, trimmed))
    }
}
