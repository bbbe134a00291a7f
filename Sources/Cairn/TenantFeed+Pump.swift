import CairnCore

/// The pump: reads a tenant's change stream forward for its subscriptions.
///
/// Live subscriptions (at the stream's head) get each event as it is read; one whose reader
/// lets `maxBufferedEvents` (or the byte limits) pile up is dropped with a `too_slow` resync.
/// A subscription catching up from a cursor is different: its backlog is in Redis already, so
/// the pump reads it in chunks no larger than the free half of its buffer, and only once the
/// reader has taken the previous chunk (the buffer's `onRoom` wakes the pump). The reader's
/// pace is its connection's: the server writes an event only once the socket took the last
/// ones. When a read comes back short the subscription has reached the head and is live from
/// then on; it is the same cursor moving on, so the switch has no gap and no repeat.
extension TenantFeed {
    private struct GroupKey: Hashable {
        var cursor: StreamCursor
        var live: Bool
    }

    /// What delivering one read to one subscription did.
    private struct Outcome {
        var cursor: StreamCursor
        var live: Bool
        var dropped = false
        /// There may be more to read for it right away.
        var more = false
    }

    /// Reads the stream forward for every subscription until each is at its end or waits for
    /// room. Live subscriptions at the same cursor (the usual case) share one read.
    func drain() async {
        while true {
            let snapshot = subscriptions.withLock { Array($0) }
            if snapshot.isEmpty { return }
            var groups: [GroupKey: [(id: Int, entry: Entry)]] = [:]
            for (id, entry) in snapshot {
                // A catching-up reader with less than half its buffer free: wait until it has.
                if !entry.live && !entry.mailbox.wantsRoom() { continue }
                groups[GroupKey(cursor: entry.cursor, live: entry.live), default: []].append((id, entry))
            }
            var more = false
            for (key, group) in groups {
                let count = key.live ? options.readBatch : min(options.readBatch, group.map { $0.entry.mailbox.room }.min() ?? 0)
                guard count > 0 else { continue }
                if !key.live, let trimmed = await trimmedPast(key.cursor) {
                    // A slow reader can fall behind the stream's trimming while catching up:
                    // say so, and go on from the oldest kept entry (as a `from` that old does).
                    for (id, entry) in group {
                        _ = entry.mailbox.push(.resync(.trimmed, cursor: trimmed))
                        subscriptions.withLock { all in
                            if all[id]?.cursor == key.cursor { all[id]?.cursor = trimmed }
                        }
                    }
                    more = true
                    continue
                }
                let batch: [(cursor: StreamCursor, entry: LogEntry?)]
                do {
                    batch = try await store.readStream(tenant: tenant.string, after: key.cursor, count: count)
                } catch {
                    return  // Redis is away; the next wake-up (poll or reconnect) tries again
                }
                let atHead = batch.count < count
                for (id, entry) in group {
                    let outcome =
                        key.live
                        ? deliverLive(batch, from: key.cursor, to: entry, id: id)
                        : deliverPaced(batch, from: key.cursor, to: entry, atHead: atHead)
                    if outcome.more { more = true }
                    subscriptions.withLock { all in
                        if outcome.dropped {
                            all.removeValue(forKey: id)
                        } else if all[id]?.cursor == key.cursor {
                            all[id]?.cursor = outcome.cursor
                            all[id]?.live = outcome.live
                        }
                    }
                }
                if key.live && !atHead { more = true }
            }
            if !more { return }
        }
    }

    /// The stream's trim point when it lies past `cursor` (events after `cursor` are gone).
    private func trimmedPast(_ cursor: StreamCursor) async -> StreamCursor? {
        guard let bounds = try? await store.streamBounds(tenant: tenant.string), cursor < bounds.trimmedThrough else { return nil }
        return bounds.trimmedThrough
    }

    /// Pushes each event in scope; overflow drops the subscription.
    private func deliverLive(
        _ batch: [(cursor: StreamCursor, entry: LogEntry?)], from start: StreamCursor, to entry: Entry, id: Int
    ) -> Outcome {
        var previous = start
        for item in batch {
            defer { previous = item.cursor }
            guard let event = item.entry, entry.scope.contains(event.ns) else { continue }
            var result = entry.mailbox.push(.event(event))
            if result == .overBudget, dropLargest() {
                // Someone (maybe this very subscription) was dropped to make room: try once more.
                result = entry.mailbox.push(.event(event))
            }
            switch result {
            case .accepted: continue
            case .closed: return Outcome(cursor: previous, live: true, dropped: true)
            case .full, .overBudget:
                // Resume point: just before the first event that did not fit.
                entry.mailbox.replaceAll(with: .resync(.tooSlow, cursor: previous))
                let limit =
                    result == .full
                    ? "\(options.maxBufferedEvents) events or \(options.maxBufferedBytesPerSubscription) bytes"
                    : "the server-wide \(options.maxBufferedBytes) bytes"
                log("change feed: subscription \(id) on \(entry.scope) dropped: its reader fell \(limit) behind")
                onDrop()
                return Outcome(cursor: previous, live: true, dropped: true)
            }
        }
        return Outcome(cursor: batch.last?.cursor ?? start, live: true)
    }

    /// Pushes the events in scope that fit; the cursor stops before the first that does not,
    /// to be read again once the reader made room. Nothing is dropped.
    private func deliverPaced(
        _ batch: [(cursor: StreamCursor, entry: LogEntry?)], from start: StreamCursor, to entry: Entry, atHead: Bool
    ) -> Outcome {
        var messages: [FeedMessage] = []
        var positions: [Int] = []  // index in `batch` of each message
        for (index, item) in batch.enumerated() {
            guard let event = item.entry, entry.scope.contains(event.ns) else { continue }
            messages.append(.event(event))
            positions.append(index)
        }
        let (added, stop) = entry.mailbox.push(contentsOf: messages)
        switch stop {
        case .closed: return Outcome(cursor: start, live: false, dropped: true)
        case .accepted:
            let end = batch.last?.cursor ?? start
            return Outcome(cursor: end, live: atHead, more: !atHead)
        case .full, .overBudget:
            // Everything before the first event that did not fit was handled (delivered or
            // out of scope). A full buffer waits for `onRoom`; a full server-wide budget for the
            // next wake-up (poll or notification).
            let firstLeft = positions[added]
            let end = firstLeft == 0 ? start : batch[firstLeft - 1].cursor
            return Outcome(cursor: end, live: false, more: stop == .full)
        }
    }
}
