import CairnCore
import CairnRedis

/// The fields of an item's Redis hash, and their meaning.
package enum ItemField {
    package static let value = "value"  // compact JSON text; absent on a tombstone
    package static let version = "version"
    package static let kind = "kind"  // "item" | "block"; absent on a tombstone
    package static let created = "created"  // ms since 1970
    package static let updated = "updated"  // ms since 1970
    package static let by = "by"
    package static let agent = "agent"
    package static let deleted = "deleted"  // "1" on a tombstone
    package static let description = "description"
    package static let limit = "limit"
    package static let readOnly = "read_only"
    package static let metadata = "metadata"  // compact JSON text

    /// Everything but the value: what a write needs to know about the current state.
    package static let header = [version, kind, created, updated, deleted, description, limit, readOnly, metadata, by, agent]
    package static let blockFields = [description, limit, readOnly, metadata]
    /// Where each field sits in `header` (and in `all`).
    package enum Position {
        package static let version = 0, kind = 1, created = 2, updated = 3, deleted = 4, description = 5, limit = 6
        package static let readOnly = 7, metadata = 8, by = 9, agent = 10
    }

    /// The header, then the value: what a read of the whole item asks for.
    package static let all = header + [value]
}

/// An item's hash as read from Redis: live, a tombstone, or never written.
struct StoredItem: Sendable {
    /// Current version; 0 when the key was never written.
    var version: Int
    var deleted: Bool
    var kind: ItemKind?
    var createdMs: Int64
    var updatedMs: Int64
    var by: String?
    var agent: String?
    /// Compact JSON text of the value, when it was read.
    var valueText: String?
    var block: BlockProperties?

    var isLive: Bool { version > 0 && !deleted }

    /// The version a client sees: 0 when absent (never written, or deleted).
    var liveVersion: Int { isLive ? version : 0 }

    /// From an `HMGET key <ItemField.header…>` reply, read by position without building a
    /// dictionary.
    init(header reply: RedisValue) {
        self.init(fields: reply.array ?? [], value: nil)
    }

    /// From the header fields in `ItemField.header` order (extra fields after them are ignored).
    private init(fields v: [RedisValue], value: RedisValue?) {
        func field(_ i: Int) -> String? { i < v.count ? v[i].string : nil }
        typealias At = ItemField.Position
        version = field(At.version).flatMap { Int($0) } ?? 0
        deleted = field(At.deleted) == "1"
        kind = field(At.kind).flatMap(ItemKind.init(rawValue:))
        createdMs = field(At.created).flatMap { Int64($0) } ?? 0
        updatedMs = field(At.updated).flatMap { Int64($0) } ?? 0
        by = field(At.by)
        agent = field(At.agent)
        valueText = value?.string
        if kind == .block {
            block = BlockProperties(
                description: field(At.description), limit: field(At.limit).flatMap { Int($0) } ?? 0,
                readOnly: field(At.readOnly) == "1",
                metadata: field(At.metadata).flatMap { try? JSONValue(parsing: $0) })
        }
    }

    /// The command that reads a whole item, to decode with `init(all:)`.
    static func readAll(_ itemKey: String) -> RedisCommand { RedisCommand(["HMGET", itemKey] + ItemField.all) }

    /// From the reply to `readAll`.
    init(all reply: RedisValue) {
        let values = reply.array ?? []
        self.init(fields: values, value: values.count == ItemField.all.count ? values.last : nil)
    }

    /// The live item, or nil for a tombstone, an absent key or a value that cannot be read.
    func item(ns: Namespace, key: String) -> Item? {
        guard isLive, let kind, let valueText, let value = try? JSONValue(parsing: valueText) else { return nil }
        return Item(
            ns: ns, key: key, kind: kind, value: value, version: version,
            createdAt: Timestamp(millisecondsSince1970: createdMs),
            updatedAt: Timestamp(millisecondsSince1970: updatedMs),
            updatedBy: by ?? "", agent: agent, block: block, score: nil)
    }
}
