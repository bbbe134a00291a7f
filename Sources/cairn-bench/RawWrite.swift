import Cairn
import CairnCore
import CairnRedis

/// A write as the store sends it, issued by cairn-bench itself through RedisPool: one round trip
/// `WATCH item; HMGET item <header…>[ value]; TIME`, a decision, then one round trip `MULTI`, the
/// store's own write commands (`Store.writeCommands`: the item's hash, its history, the index,
/// the search document, the change stream), `EXEC`. An aborted `EXEC` (a watched key changed)
/// runs the whole thing again after a jittered backoff, up to 128 times, as the store does.
struct RawWriter: Sendable {
    let pool: RedisPool
    let layout: KeyLayout
    let attribution = Attribution(principal: "bench")
    /// cairnd's defaults (history and stream lengths), as the cairnd it is compared with runs.
    let options = StoreOptions()

    /// The current state a write reads under WATCH.
    struct Current {
        var version = 0
        var live = false
        var kind: String?
        var createdMs: Int64 = 0
        var updatedMs: Int64 = 0
        var limit = 0
        var valueText: String?
        var nowMs: Int64 = 0
    }

    enum Outcome: Sendable {
        case committed(version: Int, valueText: String)
        /// `if_version` did not match (the current live version).
        case conflict(current: Int)
    }

    /// What to store, decided from the current state; nil with `if_version` refused.
    typealias Decide = @Sendable (Current) throws -> (valueText: String, block: Bool)

    /// Runs one write of `key`: returns the outcome and how many EXECs were aborted first.
    func write(
        _ ns: Namespace, key: String, ifVersion: Int?, op: WriteOp, readValue: Bool, decide: @escaping Decide
    ) async throws -> (Outcome, aborted: Int) {
        for attempt in 0..<128 {
            let outcome = try await pool.withConnection { c -> Outcome? in
                let current = try await read(c, ns, key, withValue: readValue)
                if let ifVersion, ifVersion != (current.live ? current.version : 0) {
                    _ = try await c.send(["UNWATCH"])
                    return .conflict(current: current.live ? current.version : 0)
                }
                let (valueText, block) = try decide(current)
                let version = current.version + 1
                let updated = max(current.nowMs, current.updatedMs)
                let created = current.live ? current.createdMs : updated
                let commands = commands(
                    ns, key, version: version, createdMs: created, updatedMs: updated, valueText: valueText,
                    block: block ? current.limit : nil, op: op)
                switch try await c.transaction(commands) {
                case .aborted:
                    return nil
                case .committed(let replies):
                    if let failed = replies.first(where: { if case .error = $0 { true } else { false } }) {
                        throw BenchFailure("a command inside EXEC failed: \(failed)")
                    }
                    return .committed(version: version, valueText: valueText)
                }
            }
            if let outcome { return (outcome, attempt) }
            await backoff(attempt: attempt)
        }
        throw BenchFailure("gave up after 128 aborted transactions on \(key)")
    }

    /// `WATCH item; HMGET item <header>[ value]; TIME` in one round trip.
    private func read(_ c: RedisChannelConnection, _ ns: Namespace, _ key: String, withValue: Bool) async throws -> Current {
        let itemKey = layout.item(ns, key)
        let replies = try await c.pipeline([
            ["WATCH", itemKey], RedisCommand(["HMGET", itemKey] + ItemField.header + (withValue ? [ItemField.value] : [])), ["TIME"],
        ])
        for reply in replies { try reply.checked() }
        let h = replies[1].array ?? []
        var current = Current()
        typealias At = ItemField.Position
        current.version = h[At.version].int ?? 0
        current.kind = h[At.kind].string
        current.createdMs = Int64(h[At.created].int ?? 0)
        current.updatedMs = Int64(h[At.updated].int ?? 0)
        current.live = current.version > 0 && h[At.deleted].string != "1"
        current.limit = h[At.limit].int ?? 0
        if withValue { current.valueText = h.last?.string }
        current.nowMs = Store.milliseconds(fromTime: replies[2])
        return current
    }

    /// The transaction's commands: the store's own (`Store.writeCommands`), so the baseline
    /// cannot drift from what cairnd sends.
    private func commands(
        _ ns: Namespace, _ key: String, version: Int, createdMs: Int64, updatedMs: Int64, valueText: String, block limit: Int?,
        op: WriteOp
    ) -> [RedisCommand] {
        Store.writeCommands(
            layout: layout, options: options, ns: ns, key: key, version: version, createdMs: createdMs, updatedMs: updatedMs,
            valueText: valueText, kind: limit == nil ? .item : .block, block: limit.map { BlockProperties(limit: $0) }, op: op,
            attribution: attribution)
    }

    /// `HGETALL item` — what the store's `get` sends — as (version, value text); version 0 when absent.
    func read(_ ns: Namespace, key: String) async throws -> (version: Int, valueText: String?) {
        let fields = try await pool.send(["HGETALL", layout.item(ns, key)]).checked().fieldMap ?? [:]
        let live = fields["deleted"] != "1"
        return (live ? fields["version"].flatMap { Int($0) } ?? 0 : 0, live ? fields["value"] : nil)
    }
}
