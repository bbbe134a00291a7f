import Cairn
import CairnProtocol
import Logging
import NIOCore
import Synchronization

/// A connection's open subscriptions and their forwarding tasks.
final class ConnectionSubscriptions: Sendable {
    struct Active: Sendable {
        var subscription: Subscription
        var tokenHash: String?
        var task: Task<Void, Never>?
    }

    /// Keyed by `Name`: the client names a subscription back by bytes.
    private let active = Mutex<[Name: Active]>([:])

    var count: Int { active.withLock { $0.count } }

    var tokenHashes: Set<String> { active.withLock { Set($0.values.compactMap(\.tokenHash)) } }

    func add(_ name: String, _ subscription: Subscription, tokenHash: String?) {
        active.withLock { $0[Name(name)] = Active(subscription: subscription, tokenHash: tokenHash, task: nil) }
    }

    /// The token was revoked: each of its subscriptions gets a `resync` (`token_revoked`) as its
    /// last message and ends.
    func revoke(tokenHash: String) {
        let affected = active.withLock { all in all.values.filter { $0.tokenHash == tokenHash }.map(\.subscription) }
        for subscription in affected { subscription.end(with: .resync(.tokenRevoked, cursor: .start)) }
    }

    func setTask(_ name: String, _ task: Task<Void, Never>) {
        let orphan: Task<Void, Never>? = active.withLock { all in
            guard all[Name(name)] != nil else { return task }
            all[Name(name)]?.task = task
            return nil
        }
        orphan?.cancel()
    }

    /// Removes and stops one subscription; false when there is none by that name.
    @discardableResult
    func remove(_ name: String) -> Bool {
        guard let entry = active.withLock({ $0.removeValue(forKey: Name(name)) }) else { return false }
        entry.subscription.cancel()
        entry.task?.cancel()
        return true
    }

    func cancelAll() {
        let all = active.withLock { a in
            defer { a.removeAll() }
            return Array(a.values)
        }
        for entry in all {
            entry.subscription.cancel()
            entry.task?.cancel()
        }
    }
}

/// `subscribe` and `unsubscribe`, and the task that turns a subscription's messages into
/// `event` / `events` / `resync` notifications on the connection.
enum EventMethods {
    static func register(in table: inout MethodTable) {
        table.add("subscribe", params: ["scope", "from", "include_values", "coalesce_ms"]) { session, params throws(CairnError) in
            let scope = try params.scope()
            var from: StreamCursor?
            if let text = try params.optionalString("from") {
                guard let cursor = StreamCursor(text) else {
                    throw CairnError.invalidParams("from", "from must be a cursor from an earlier event or subscribe answer")
                }
                from = cursor
            }
            let includeValues = try params.optionalBool("include_values") ?? false
            let coalesce = try params.int("coalesce_ms", default: 0, in: 0...60_000)
            let caller = try session.caller
            try caller.authorize(scope, anyOf: [.read])
            let limit = session.context.configuration.maxSubscriptionsPerConnection
            guard session.subscriptions.count < limit else {
                throw CairnError(.tooMany, "this connection already has \(limit) subscriptions; unsubscribe one or open another connection", data: ["limit": .int(limit)])
            }
            let subscription = try await session.context.feed.subscribe(scope, from: from)
            session.subscriptionCounter += 1
            let name = "s\(session.subscriptionCounter)"
            session.subscriptions.add(name, subscription, tokenHash: caller.tokenHash)
            let forwarder = Forwarder(
                name: name, subscription: subscription, output: session.output, store: session.context.store,
 includeValues: includeValues,
                coalesceMilliseconds: coalesce, logger: session.logger, metrics: session.context.metrics,
                subscriptions: session.subscriptions)
            session.afterResponse.append {
                session.subscriptions.setTask(name, Task { await forwarder.run() })
            }
            session.context.metrics.subscriptionsOpened.increment()
            return ["subscription": .string(name), "cursor": .string(subscription.startCursor.description)]
        }

        table.add("unsubscribe", params: ["subscription"]) { session, params throws(CairnError) in
            let name = try params.string("subscription")
            guard session.subscriptions.remove(name) else {
                throw CairnError(.notFound, "no subscription \(name.debugDescription) on this connection")
            }
            return [:]
        }
    }
}

/// Forwards one subscription's messages to its connection.
struct Forwarder: Sendable {
    let name: String
    let subscription: Subscription
    let output: NIOAsyncChannelOutboundWriter<ByteBuffer>
    let store: Store
    let includeValues: Bool
    let coalesceMilliseconds: Int
    let logger: Logger
    let metrics: ServerMetrics
    let subscriptions: ConnectionSubscriptions

    func run() async {
        defer { metrics.subscriptionsClosed.increment() }
        // The cursor of the last event sent: where a client resumes after a resync that ends
        // the subscription.
        var lastSent = subscription.startCursor
        for await first in subscription {
            var messages = [first]
            if coalesceMilliseconds > 0, case .event = first {
                try? await Task.sleep(nanoseconds: UInt64(coalesceMilliseconds) * 1_000_000)
                messages += subscription.drainQueued()
            }
            var events: [JSONValue] = []
            for message in messages {
                switch message {
                case .event(let entry):
                    events.append(await eventJSON(entry))
                    lastSent = StreamCursor(entry.cursor) ?? lastSent
                case .resync(let cause, let given):
                    if !(await flush(&events)) { return }
                    let cursor = cause == .trimmed ? given : lastSent
                    guard await send(resync(reason: cause.rawValue, message: cause.explanation(cursor: cursor), cursor: cursor)) else { return }
                    if cause == .tokenRevoked {
                        subscriptions.remove(name)
                        return
                    }
                    if cause == .tooSlow {
                        logger.warning("subscription \(name) on \(subscription.scope) dropped: the client reads too slowly")
                        subscriptions.remove(name)
                    }
                }
            }
            if !(await flush(&events)) { return }
        }
    }

    /// Sends pending events (one `events` notification when coalescing); false when the
    /// connection is gone.
    func flush(_ events: inout [JSONValue]) async -> Bool {
        guard !events.isEmpty else { return true }
        defer { events.removeAll() }
        metrics.eventsSent.increment(by: Int64(events.count))
        if coalesceMilliseconds > 0 {
            return await send(notification("events", ["subscription": .string(name), "events": .array(events)]))
        }
        for event in events {
            guard await send(notification("event", event)) else { return false }
        }
        return true
    }

    func eventJSON(_ entry: LogEntry) async -> JSONValue {
        guard case .object(var o) = Wire.log(entry) else { return .null }
        o["subscription"] = .string(name)
        if o["agent"] == .null { o.removeValue(forKey: "agent") }
        if o["reason"] == .null { o.removeValue(forKey: "reason") }
        if includeValues {
            if entry.op == .delete {
                o["value"] = .null
            } else {
                o["value"] = (try? await store.get(entry.ns, key: entry.key.string, version: entry.version))??.value ?? .null
            }
        }
        var ordered: [(JSONKey, JSONValue)] = [("subscription", o["subscription"]!)]
        for (k, v) in o where k != "subscription" { ordered.append((k, v)) }
        return .object(.init(uniqueKeysWithValues: ordered))
    }

    /// `{"subscription","ns","reason","message","cursor"}`: `reason` is machine-readable
    /// (`trimmed`, `too_slow`, `token_revoked`), `cursor` where to resume after re-reading.
    func resync(reason: String, message: String, cursor: StreamCursor) -> [UInt8] {
        notification(
            "resync",
            [
                "subscription": .string(name), "ns": Wire.scope(subscription.scope), "reason": .string(reason),
                "message": .string(message), "cursor": .string(cursor.description),
            ])
    }

    func notification(_ method: String, _ params: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        RPCCoding.notification(method: method, params, into: &out)
        out.append(UInt8(ascii: "\n"))
        return out
    }

    func send(_ bytes: [UInt8]) async -> Bool {
        do {
            try await output.write(ByteBuffer(bytes: bytes))
            return true
        } catch {
            subscriptions.remove(name)
            return false
        }
    }
}
