import CairnCore
import CairnRedis

extension Store {
    /// The value each event's item had at the event's version (`null` for a delete, for a
    /// version older than the kept history, and for an item that cannot be read), as `get` with
    /// that version answers — in one round trip for the whole run in the common case.
    ///
    /// Each distinct item is read as one snapshot: `MULTI`, its fields, the newest entries of its
    /// history, `EXEC`, the snapshots of all items pipelined on one connection. Inside a snapshot
    /// the item's version and its history agree, so the entry of version `v` is at index
    /// `current - v` whatever writes come in meanwhile (the history list is newest first, its
    /// head the current version). The depth read covers the run's versions plus `slack` newer
    /// writes; events older than that (many writes landed since) get a second, deeper snapshot
    /// sized from the first one's version. What is older than the kept history is null.
    public func values(at events: [LogEntry]) async throws(CairnError) -> [JSONValue] {
        var values = [JSONValue](repeating: .null, count: events.count)
        var items: [WantedItem] = []
        var itemOfKey: [String: Int] = [:]
        for (index, event) in events.enumerated() where event.op != .delete {
            let itemKey = layout.item(event.ns, event.key.string)
            if let slot = itemOfKey[itemKey] {
                items[slot].add(index, version: event.version)
            } else {
                itemOfKey[itemKey] = items.count
                items.append(
                    WantedItem(itemKey: itemKey, historyKey: layout.history(event.ns, event.key.string), event: index, version: event.version))
            }
        }
        guard !items.isEmpty else { return values }
        let limit = options.historyLimit
        // First snapshot: the run's span of versions and a few newer ones.
        var unresolved = try await resolve(
            items.map { ($0, min(limit, $0.newest - $0.oldest + 1 + Self.valueSnapshotSlack)) }, events, &values)
        // Those the first one missed (more writes since than the slack): one deeper snapshot,
        // sized from the version the first one saw.
        if !unresolved.isEmpty {
            unresolved = try await resolve(
                unresolved.map { ($0.item, min(limit, $0.seen - $0.item.oldest + 1 + Self.valueSnapshotSlack)) }, events, &values)
        }
        _ = unresolved  // still missing: older than the kept history, or trimmed meanwhile: null
        return values
    }

    /// Newer versions a value snapshot reads beyond the run's own (writes landing meanwhile).
    static let valueSnapshotSlack = 32

    /// Reads one snapshot per item (`depth` history entries) and fills in the values it holds;
    /// returns the items with events it could not resolve, with the version it saw.
    private func resolve(
        _ items: [(item: WantedItem, depth: Int)], _ events: [LogEntry], _ values: inout [JSONValue]
    ) async throws(CairnError) -> [(item: WantedItem, seen: Int)] {
        var commands: [RedisCommand] = []
        commands.reserveCapacity(items.count * 4)
        for (item, depth) in items {
            commands.append(["MULTI"])
            commands.append(StoredItem.readAll(item.itemKey))
            commands.append(["LRANGE", item.historyKey, "0", String(max(0, depth - 1))])
            commands.append(["EXEC"])
        }
        let replies = try await redis.run { connection in try await connection.pipeline(commands) }
        var unresolved: [(item: WantedItem, seen: Int)] = []
        for (position, (item, depth)) in items.enumerated() {
            // MULTI's +OK, two +QUEUED, then EXEC's array of the two replies.
            let exec = replies[position * 4 + 3]
            if case .error(let message) = exec { throw CairnError(.unavailable, "Redis refused a snapshot read: \(message)") }
            guard let snapshot = exec.array, snapshot.count == 2 else { continue }  // the item vanished mid-read: null
            let stored = StoredItem(all: snapshot[0])
            let history = snapshot[1].array ?? []
            var missed = item
            missed.events = []
            for index in item.events {
                let version = events[index].version
                if version == stored.version {
                    values[index] = stored.item(ns: events[index].ns, key: events[index].key.string)?.value ?? .null
                    continue
                }
                guard version < stored.version else { continue }  // deleted and re-created lower: null
                let offset = stored.version - version
                if offset < history.count {
                    if let text = history[offset].string, let record = HistoryRecord.decode(text), record.entry.version == version {
                        values[index] = record.entry.value ?? .null
                    }
                } else if history.count == depth {
                    missed.add(index, version: version)  // beyond what this snapshot read
                }
            }
            if !missed.events.isEmpty { unresolved.append((missed, stored.version)) }
        }
        return unresolved
    }
}

/// An item some events of a run need values of: its keys, those events, their version span.
private struct WantedItem {
    let itemKey: String
    let historyKey: String
    var events: [Int]
    var oldest: Int
    var newest: Int

    init(itemKey: String, historyKey: String, event: Int, version: Int) {
        self.itemKey = itemKey
        self.historyKey = historyKey
        events = [event]
        (oldest, newest) = (version, version)
    }

    mutating func add(_ event: Int, version: Int) {
        if events.isEmpty { (oldest, newest) = (version, version) }
        events.append(event)
        oldest = min(oldest, version)
        newest = max(newest, version)
    }
}
