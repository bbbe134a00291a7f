import CairnCore
import CairnRedis

extension Store {
    /// The value each event's item had at the event's version (`null` for a delete, for a
    /// version older than the kept history, and for an item that cannot be read), as `get` with
    /// that version answers, in at most two round trips for the whole run instead of one or two
    /// per event: one pipelined `HMGET` per distinct item, then one pipelined `LINDEX` per event
    /// whose version is no longer the current one. An event whose history entry moved between
    /// the two (a write came in) is read once more alone.
    public func values(at events: [LogEntry]) async throws(CairnError) -> [JSONValue] {
        var values = [JSONValue](repeating: .null, count: events.count)
        var itemKeys: [String] = []
        var slotOfKey: [String: Int] = [:]
        var slotOfEvent = [Int?](repeating: nil, count: events.count)
        for (index, event) in events.enumerated() where event.op != .delete {
            let itemKey = layout.item(event.ns, event.key.string)
            if let slot = slotOfKey[itemKey] {
                slotOfEvent[index] = slot
            } else {
                slotOfKey[itemKey] = itemKeys.count
                slotOfEvent[index] = itemKeys.count
                itemKeys.append(itemKey)
            }
        }
        guard !itemKeys.isEmpty else { return values }
        let replies = try await redis.run { connection in
            try await connection.pipeline(itemKeys.map(StoredItem.readAll))
        }
        let stored = replies.map { StoredItem(all: $0) }
        // Events whose version is no longer the item's current one: read from the history.
        var older: [(event: Int, index: Int)] = []
        for (index, event) in events.enumerated() {
            guard let slot = slotOfEvent[index] else { continue }
            let item = stored[slot]
            if event.version == item.version {
                values[index] = item.item(ns: event.ns, key: event.key.string)?.value ?? .null
            } else if event.version < item.version {
                older.append((index, item.version - event.version))
            }
        }
        guard !older.isEmpty else { return values }
        let entries = try await redis.run { connection in
            try await connection.pipeline(
                older.map { RedisCommand(["LINDEX", layout.history(events[$0.event].ns, events[$0.event].key.string), String($0.index)]) })
        }
        for (position, (index, _)) in older.enumerated() {
            let event = events[index]
            if let text = entries[position].string, let decoded = HistoryRecord.decode(text), decoded.entry.version == event.version {
                values[index] = decoded.entry.value ?? .null
            } else if entries[position].string != nil {
                // A write between the two reads shifted the history: read this one alone.
                values[index] = (try? await get(event.ns, key: event.key.string, version: event.version))??.value ?? .null
            }
        }
        return values
    }
}
