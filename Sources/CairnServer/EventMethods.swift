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
        table.register(RPC.Subscribe.self) { subscribe, session throws(CairnError) in
            let caller = try session.caller
            try caller.authorize(subscribe.scope, anyOf: [.read])
            let limit = session.context.configuration.maxSubscriptionsPerConnection
            guard session.subscriptions.count < limit else {
                throw CairnError(.tooMany, "this connection already has \(limit) subscriptions; unsubscribe one or open another connection", data: ["limit": .int(limit)])
            }
            let from = subscribe.from.map { StreamCursor(milliseconds: $0.milliseconds, sequence: $0.sequence) }
            let subscription = try await session.context.feed.subscribe(subscribe.scope, from: from)
            session.subscriptionCounter += 1
            let name = "s\(session.subscriptionCounter)"
            session.subscriptions.add(name, subscription, tokenHash: caller.tokenHash)
            let forwarder = Forwarder(
                name: name, subscription: subscription, output: session.output, store: session.context.store,
                includeValues: subscribe.includeValues, coalesceMilliseconds: subscribe.coalesceMilliseconds, logger: session.logger,
                metrics: session.context.metrics, subscriptions: session.subscriptions)
            session.afterResponse.append {
                session.subscriptions.setTask(name, Task { await forwarder.run() })
            }
            session.context.metrics.subscriptionsOpened.increment()
            return RPC.Subscribe.encodeResult(Subscribed(subscription: name, cursor: subscription.startCursor.description))
        }

        table.register(RPC.Unsubscribe.self) { unsubscribe, session throws(CairnError) in
            guard session.subscriptions.remove(unsubscribe.subscription) else {
                throw CairnError(.notFound, "no subscription \(unsubscribe.subscription.debugDescription) on this connection")
            }
            return RPC.Unsubscribe.encodeResult(())
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

    /// Events taken from the subscription's buffer at a time (and values read in one go).
    static let runLength = 256
    /// Output gathered before it is written: events of a run go out in writes of about this size.
    static let writeChunkBytes = 256 * 1024

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
            } else {
                // Whatever else is queued goes out with it: one value read and one write for the
                // run, not one per event.
                messages += subscription.drainQueued(limit: Self.runLength - 1)
            }
            var run: [LogEntry] = []
            for message in messages {
                switch message {
                case .event(let entry):
                    run.append(entry)
                    lastSent = StreamCursor(entry.cursor) ?? lastSent
                case .resync(let cause, let given):
                    if !(await send(events: &run)) { return }
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
            if !(await send(events: &run)) { return }
        }
    }

    /// Sends a run of events (one `events` notification when coalescing), with their values
    /// when asked, read for the whole run at once; false when the connection is gone.
    func send(events run: inout [LogEntry]) async -> Bool {
        guard !run.isEmpty else { return true }
        defer { run.removeAll() }
        metrics.eventsSent.increment(by: Int64(run.count))
        var values: [JSONValue]?
        if includeValues {
            // Today's semantics: the value at the event's version; a value that cannot be read
            // now (Redis away, history trimmed) is sent as null, as before.
            var read: [JSONValue] = []
            for start in stride(from: 0, to: run.count, by: Self.runLength) {
                let slice = Array(run[start..<min(start + Self.runLength, run.count)])
                read += (try? await store.values(at: slice)) ?? [JSONValue](repeating: .null, count: slice.count)
            }
            values = read
        }
        let events = run.enumerated().map { eventJSON($0.element, value: values?[$0.offset]) }
        if coalesceMilliseconds > 0 {
            return await send(notification("events", ["subscription": .string(name), "events": .array(events)]))
        }
        var out: [UInt8] = []
        for event in events {
            RPCCoding.notification(method: "event", event, into: &out)
            out.append(UInt8(ascii: "\n"))
            if out.count >= Self.writeChunkBytes {
                guard await send(out) else { return false }
                out.removeAll(keepingCapacity: true)
            }
        }
        return out.isEmpty ? true : await send(out)
    }

    /// The `event` params: `value` only when values were asked for.
    func eventJSON(_ entry: LogEntry, value: JSONValue?) -> JSONValue {
        guard case .object(var o) = Wire.log(entry) else { return .null }
        if o["agent"] == .null { o.removeValue(forKey: "agent") }
        if o["reason"] == .null { o.removeValue(forKey: "reason") }
        if let value { o["value"] = value }
        var ordered: [(JSONKey, JSONValue)] = [("subscription", .string(name))]
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
