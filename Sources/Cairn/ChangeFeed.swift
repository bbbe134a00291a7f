import CairnCore
import CairnRedis
import ServiceLifecycle
import Synchronization

/// What a subscription yields.
public enum FeedMessage: Sendable, Hashable {
    /// One committed write in the subscription's scope.
    case event(LogEntry)
    /// Events may have been missed (the stream was trimmed past the cursor, or the reader fell
    /// too far behind): re-read what you need. After an overflow it is the last message.
    case resync(ResyncCause, cursor: StreamCursor)
}

/// Why a subscription got a `resync`.
public enum ResyncCause: String, Sendable, Hashable {
    /// The stream was trimmed past the subscription's cursor: events between are gone. The
    /// subscription goes on from the oldest kept entry.
    case trimmed
    /// The reader fell `maxBufferedEvents` behind: the subscription was dropped (this is its
    /// last message). Re-read, then subscribe again from the cursor.
    case tooSlow = "too_slow"
    /// The subscription was ended by its owner (the server: the token was revoked). Last message.
    case tokenRevoked = "token_revoked"

    /// What a person should know, and do.
    public func explanation(cursor: StreamCursor) -> String {
        switch self {
        case .trimmed:
            "the change stream was trimmed past the cursor; events up to \(cursor) are gone: re-read the scope, then go on"
        case .tooSlow:
            "the subscriber fell too far behind and the subscription was dropped: re-read the scope, then subscribe again from cursor \(cursor)"
        case .tokenRevoked:
            "the token was revoked; the subscription is closed"
        }
    }
}

/// Settings of a `ChangeFeed`.
public struct FeedOptions: Sendable, Hashable {
    /// Live events a subscription may hold unread; one more drops it with a `resync`. A
    /// subscription catching up from a cursor never holds more either, but it is not dropped for
    /// it: its backlog is read from the stream only as fast as the reader takes it.
    public var maxBufferedEvents: Int
    /// Bytes of events one subscription may hold unread (see `FeedBudget` for what is counted);
    /// past it, as past `maxBufferedEvents`.
    public var maxBufferedBytesPerSubscription: Int
    /// Bytes of events all subscriptions of the feed together may hold unread. When a live event
    /// does not fit, the subscription holding the most is dropped with a `resync`.
    public var maxBufferedBytes: Int
    /// How often every tenant with subscribers reads its stream even without a notification (a
    /// safety net; keyspace notifications make delivery immediate).
    public var pollIntervalMilliseconds: Int
    /// Entries read from a stream at a time.
    public var readBatch: Int

    public init(
        maxBufferedEvents: Int = 10_000, maxBufferedBytesPerSubscription: Int = 4 * 1_048_576,
        maxBufferedBytes: Int = 64 * 1_048_576, pollIntervalMilliseconds: Int = 1000, readBatch: Int = 512
    ) {
        self.maxBufferedEvents = maxBufferedEvents
        self.maxBufferedBytesPerSubscription = maxBufferedBytesPerSubscription
        self.maxBufferedBytes = maxBufferedBytes
        self.pollIntervalMilliseconds = pollIntervalMilliseconds
        self.readBatch = readBatch
    }
}

/// Change events for subscribers in this process.
///
/// Every write appends an entry to its tenant's change stream inside the write's `MULTI`; that
/// stream is the record, in commit order, with a cursor per entry. Redis keyspace notifications
/// on the stream keys are the live signal: one pub/sub connection (a `RedisSubscriber` on
/// SwiftNIO) per feed hears every `XADD`, and the tenant's pump then reads the stream forward from
/// each subscription's cursor. Notifications are only a wake-up call: when one is lost (the
/// pub/sub connection dropped, a slow pub/sub client), the reconnect or the poll timer wakes
/// the pumps and they read from where they were, so no event is missed.
public final class ChangeFeed: Service {
    public let store: Store
    public let options: FeedOptions
    private let registry = FeedRegistry()
    /// The bytes all subscriptions' buffers hold, against `options.maxBufferedBytes`.
    let budget: FeedBudget
    let onDrop: @Sendable () -> Void
    private let nextID = Atomic<Int>(0)
    private let patterns: [String]
    private let keyspacePrefix: String
    private let onExtraMessage: @Sendable (_ channel: String, _ message: String) -> Void
    private let onListening: @Sendable () async -> Void
    /// Work for `run` to start as child tasks: a new tenant's pump, a reconnect's `onListening`.
    /// Unbounded, but bounded by what feeds it: one pump per tenant ever subscribed to (the
    /// registry keeps them), one `onListening` per reconnect, and `run` takes each at once.
    private let jobs: (stream: AsyncStream<FeedJob>, continuation: AsyncStream<FeedJob>.Continuation)
    private let phase = Mutex(FeedPhase.idle)
    /// The task `start` runs `run` in, for a caller without a `ServiceGroup`.
    private let started = Mutex<Task<Void, Never>?>(nil)
    /// Called with a line worth logging (notification set-up, reconnects, dropped subscribers).
    let log: @Sendable (String) -> Void

    /// `log` gets a line for each thing worth logging; `onDrop` is called when a subscription is
    /// dropped for reading too slowly.
    /// `extraChannels` are more pub/sub channel patterns to listen to on the same connection;
    /// their messages go to `onExtraMessage` (the server hears token revocations this way).
    /// `onListening` runs (as a child task of `run`) each time the pub/sub connection is
    /// subscribed again, after the pumps were woken.
    ///
    /// Nothing starts here: `run` (a `Service`) listens and pumps; until it runs, subscriptions
    /// can be made but get no events.
    public init(
        store: Store, options: FeedOptions = FeedOptions(), log: @escaping @Sendable (String) -> Void = { _ in },
        onDrop: @escaping @Sendable () -> Void = {}, extraChannels: [String] = [],
        onExtraMessage: @escaping @Sendable (_ channel: String, _ message: String) -> Void = { _, _ in },
        onListening: @escaping @Sendable () async -> Void = {}
    ) {
        self.store = store
        self.options = options
        self.log = log
        self.onDrop = onDrop
        self.onExtraMessage = onExtraMessage
        self.onListening = onListening
        budget = FeedBudget(limit: options.maxBufferedBytes)
        let redis = store.redis.configuration
        patterns = ["__keyspace@\(redis.database)__:\(store.options.keyPrefix):{*}:log"] + extraChannels
        keyspacePrefix = "__keyspace@\(redis.database)__:"
        jobs = AsyncStream<FeedJob>.makeStream()
    }

    /// Turns on keyspace notifications for streams (when Redis allows `CONFIG SET`), then
    /// listens and pumps until graceful shutdown or cancellation: the pub/sub subscription, the
    /// poll ticker and every tenant's pump are child tasks of this call. When it returns every
    /// subscription has ended and the pub/sub connection is closed; a feed runs once.
    public func run() async {
        let claimed = phase.withLock { phase in
            guard phase == .idle else { return false }
            phase = .running
            return true
        }
        guard claimed else {
            log("change feed: run() called on a feed that already ran; ignored")
            return
        }
        await cancelWhenGracefulShutdown {
            self.log(await self.enableKeyspaceNotifications())
            await withDiscardingTaskGroup { group in
                group.addTask { await self.listen() }
                group.addTask { await self.tick() }
                for await job in self.jobs.stream {
                    switch job {
                    case .pump(let feed): group.addTask { await feed.pump() }
                    case .listened: group.addTask { await self.onListening() }
                    }
                }
            }
        }
        finish()
    }

    /// Ends every subscription and refuses new ones; the feed does not run again.
    private func finish() {
        phase.withLock { $0 = .stopped }
        jobs.continuation.finish()
        registry.listening.store(false, ordering: .sequentiallyConsistent)
        for feed in registry.all() { feed.close() }
    }

    /// The pub/sub subscription: wakes a tenant's pump on each notification, every pump on
    /// each reconnect. Ends when the task is cancelled.
    private func listen() async {
        let pushes = RedisSubscriber.pushes(store.redis.configuration, patterns: patterns)
        for await push in pushes {
            switch push {
            case .message(let channel, let message):
                guard channel.hasPrefix(keyspacePrefix) else {
                    onExtraMessage(channel, message)
                    continue
                }
                guard let tenant = ChangeFeed.tenant(ofStreamKey: String(channel.dropFirst(keyspacePrefix.count))) else { continue }
                registry.feed(Name(tenant))?.wake()
            case .subscribed:
                // A new generation on every change: whatever was heard before may have been missed since.
                registry.generation.add(1, ordering: .sequentiallyConsistent)
                registry.listening.store(true, ordering: .sequentiallyConsistent)
                // Whatever was written while we were not listening is in the streams: read on.
                for feed in registry.all() { feed.wake() }
                jobs.continuation.yield(.listened)
            case .disconnected(let detail):
                registry.generation.add(1, ordering: .sequentiallyConsistent)
                registry.listening.store(false, ordering: .sequentiallyConsistent)
                log("change feed: the Redis pub/sub connection dropped (\(detail)); reconnecting, then catching up from the streams")
            }
        }
    }

    /// The safety net: wakes every pump each `pollIntervalMilliseconds`, until cancelled.
    private func tick() async {
        let interval = Duration.milliseconds(max(10, options.pollIntervalMilliseconds))
        while true {
            do { try await Task.sleep(for: interval) } catch { return }
            for feed in registry.all() { feed.wake() }
        }
    }

    /// Runs `run` in a task of the feed's own, for a caller that has no `ServiceGroup`; `stop`
    /// ends it. Answers how keyspace notifications were set up, for the log.
    @discardableResult
    public func start() async -> String {
        let status = await enableKeyspaceNotifications()
        let task = Task { await self.run() }
        started.withLock { $0 = task }
        return status
    }

    /// Stops what `start` started and ends every subscription at once.
    public func stop() {
        started.withLock { task in
            task?.cancel()
            task = nil
        }
        finish()
    }

    /// Whether the pub/sub connection is up right now.
    public var isListening: Bool { registry.listening.load(ordering: .sequentiallyConsistent) }

    /// The pub/sub connection's generation while it is up (it changes on every disconnect and
    /// reconnect); nil while it is down. Something learnt from Redis and kept fresh by messages
    /// on this connection is still fresh as long as the generation is the same.
    public var listeningGeneration: Int? {
        guard isListening else { return nil }
        return registry.generation.load(ordering: .sequentiallyConsistent)
    }

    /// Bytes of events buffered unsent right now, over every subscription (an estimate: see
    /// `FeedBudget`). Back to 0 once every subscription has been read up or has gone.
    public var bufferedBytes: Int { budget.bytes }

    /// Makes room in the shared budget: drops the subscription that holds the most bytes, in
    /// any tenant, with a `too_slow` resync. False when no subscription holds any.
    func dropLargest() -> Bool {
        var largest: (feed: TenantFeed, id: Int, bytes: Int)?
        for feed in registry.all() {
            guard let (id, bytes) = feed.largest(), bytes > (largest?.bytes ?? 0) else { continue }
            largest = (feed, id, bytes)
        }
        guard let largest else { return false }
        largest.feed.dropTooSlow(
            largest.id,
            why: "the server's event buffers are full (\(options.maxBufferedBytes) bytes) and it held the most (\(largest.bytes) bytes)")
        return true
    }

    /// Subscriptions open right now, in every tenant.
    public var subscriptionCount: Int { registry.all().reduce(0) { $0 + $1.count } }

    /// `notify-keyspace-events` must include `K` (keyspace channel) and `t` (stream commands).
    func enableKeyspaceNotifications() async -> String {
        do {
            let current = try await store.redis.send(["CONFIG", "GET", "notify-keyspace-events"])
            let flags = current.array?.last?.string ?? ""
            if flags.contains("K") && (flags.contains("t") || flags.contains("A")) {
                return "change feed: Redis keyspace notifications already include streams (notify-keyspace-events=\(flags))"
            }
            var wanted = flags
            if !wanted.contains("K") { wanted += "K" }
            if !wanted.contains("t") && !wanted.contains("A") { wanted += "t" }
            let set = try await store.redis.send(["CONFIG", "SET", "notify-keyspace-events", wanted])
            if case .error(let message) = set { throw RedisError(.server, message) }
            return "change feed: set Redis notify-keyspace-events=\(wanted) (was \"\(flags)\") so that writes wake subscribers at once"
        } catch {
            return "change feed: could not enable keyspace notifications (\(error)); set `notify-keyspace-events Kt` in redis.conf by hand. Until then events arrive by polling every \(options.pollIntervalMilliseconds) ms"
        }
    }

    /// `prefix:{tenant}:log` → tenant.
    static func tenant(ofStreamKey key: String) -> String? {
        guard let open = key.firstIndex(of: "{"), let close = key[open...].firstIndex(of: "}"), key.hasSuffix("}:log") else { return nil }
        return KeyLayout.decode(key[key.index(after: open)..<close])
    }

    /// Subscribes to every write in `scope` after `cursor` (after now when nil). When the stream
    /// was trimmed past `cursor`, the first message is a `resync`.
    public func subscribe(_ scope: Scope, from cursor: StreamCursor? = nil) async throws(CairnError) -> Subscription {
        let bounds = try await store.streamBounds(tenant: scope.tenant.string)
        var start = cursor ?? bounds.head
        let jobs = self.jobs.continuation
        let feed = registry.feed(scope.tenant, orMake: {
            let made = TenantFeed(tenant: scope.tenant, store: store, options: options, log: log, onDrop: onDrop) { [weak self] in
                self?.dropLargest() ?? false
            }
            // Its pump is a child task of `run` (once it runs; at once when it does).
            jobs.yield(.pump(made))
            return made
        })
        if phase.withLock({ $0 == .stopped }) {
            throw CairnError(.unavailable, "the change feed is stopped (the server is shutting down)")
        }
        let mailbox = Mailbox<FeedMessage>(
            capacity: options.maxBufferedEvents, maxBytes: options.maxBufferedBytesPerSubscription, budget: budget,
            weigh: { $0.approximateBytes }, onRoom: { [weak feed] in feed?.wake() })
        if let cursor {
            if cursor > bounds.head {
                throw CairnError.invalidParams("from", "cursor \(cursor) is ahead of the stream (newest \(bounds.head)); use a cursor from an event")
            }
            if cursor < bounds.trimmedThrough {
                _ = mailbox.push(.resync(.trimmed, cursor: bounds.trimmedThrough))
                start = bounds.trimmedThrough
            }
        }
        let id = nextID.add(1, ordering: .relaxed).newValue
        // Without `from` the subscription starts at the head: live. With one, it catches up,
        // paced by its reader, until a read finds the head.
        feed.add(id: id, scope: scope, cursor: start, mailbox: mailbox, live: cursor == nil)
        feed.wake()
        return Subscription(id: id, scope: scope, cursor: start, mailbox: mailbox) { [weak feed] in feed?.remove(id) }
    }
}

/// Where a `ChangeFeed` is in its one run.
private enum FeedPhase {
    case idle, running, stopped
}

/// Work a running `ChangeFeed` starts as child tasks.
enum FeedJob: Sendable {
    /// A new tenant's pump.
    case pump(TenantFeed)
    /// The pub/sub connection is subscribed (again): run `onListening`.
    case listened
}

/// The tenant feeds of a `ChangeFeed`, shared with its listener and ticker.
final class FeedRegistry: Sendable {
    /// Keyed by `Name`, so look-alike tenants (`"\u{212A}raken"`, `"Kraken"`) get separate feeds.
    private let tenants = Mutex<[Name: TenantFeed]>([:])
    let listening = Atomic<Bool>(false)
    let generation = Atomic<Int>(0)

    func feed(_ tenant: Name) -> TenantFeed? { tenants.withLock { $0[tenant] } }

    func feed(_ tenant: Name, orMake make: () -> TenantFeed) -> TenantFeed {
        tenants.withLock { all in
            if let existing = all[tenant] { return existing }
            let created = make()
            all[tenant] = created
            return created
        }
    }

    func all() -> [TenantFeed] { tenants.withLock { Array($0.values) } }
}

/// One subscription: an `AsyncSequence` of `FeedMessage`s. It ends when cancelled, when the
/// feed stops, or after a `resync` for falling behind.
public final class Subscription: AsyncSequence, Sendable {
    public typealias Element = FeedMessage
    public let id: Int
    public let scope: Scope
    /// The cursor the subscription started after.
    public let startCursor: StreamCursor
    let mailbox: Mailbox<FeedMessage>
    private let onCancel: @Sendable () -> Void

    init(id: Int, scope: Scope, cursor: StreamCursor, mailbox: Mailbox<FeedMessage>, onCancel: @escaping @Sendable () -> Void) {
        self.id = id
        self.scope = scope
        startCursor = cursor
        self.mailbox = mailbox
        self.onCancel = onCancel
    }

    deinit { cancel() }

    /// Stops the subscription; the sequence ends after what is already queued.
    public func cancel() {
        onCancel()
        mailbox.finish()
    }

    /// Ends the subscription with `last` as its final message (dropping what is queued).
    public func end(with last: FeedMessage) {
        onCancel()
        mailbox.replaceAll(with: last)
    }

    /// Up to `limit` messages queued right now, oldest first, without waiting (for batching).
    public func drainQueued(limit: Int = .max) -> [FeedMessage] { mailbox.drain(limit: limit) }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let mailbox: Mailbox<FeedMessage>
        public mutating func next() async -> FeedMessage? { await mailbox.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(mailbox: mailbox) }
}

/// The subscriptions of one tenant, and the pump that reads its stream for them (see
/// `TenantFeed+Pump.swift`).
final class TenantFeed: Sendable {
    struct Entry {
        var scope: Scope
        var cursor: StreamCursor
        var mailbox: Mailbox<FeedMessage>
        /// At the stream's head (events are pushed as they come, and overflowing drops the
        /// subscription); false while catching up from a cursor (read only as the reader makes room).
        var live: Bool
    }

    let tenant: Name
    let store: Store
    let options: FeedOptions
    let log: @Sendable (String) -> Void
    let onDrop: @Sendable () -> Void
    /// Drops the subscription holding the most bytes in the whole feed; false when none holds any.
    let dropLargest: @Sendable () -> Bool
    let subscriptions = Mutex<[Int: Entry]>([:])
    /// Set once by `close`: a subscription added later ends at once.
    private let closed = Atomic<Bool>(false)
    /// Wake-ups for the pump: at most one waits (a pump that wakes reads everything new).
    private let wakeups: (stream: AsyncStream<Void>, continuation: AsyncStream<Void>.Continuation)

    init(
        tenant: Name, store: Store, options: FeedOptions, log: @escaping @Sendable (String) -> Void,
        onDrop: @escaping @Sendable () -> Void, dropLargest: @escaping @Sendable () -> Bool
    ) {
        self.onDrop = onDrop
        self.tenant = tenant
        self.store = store
        self.options = options
        self.log = log
        self.dropLargest = dropLargest
        wakeups = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Reads the stream for the subscriptions on each wake-up, until `close` or cancellation.
    /// A child task of `ChangeFeed.run`; run once per tenant feed.
    func pump() async {
        for await _ in wakeups.stream {
            await drain()
        }
    }

    var count: Int { subscriptions.withLock { $0.count } }

    func add(id: Int, scope: Scope, cursor: StreamCursor, mailbox: Mailbox<FeedMessage>, live: Bool) {
        subscriptions.withLock { $0[id] = Entry(scope: scope, cursor: cursor, mailbox: mailbox, live: live) }
        // Added while the feed closed: `close` either saw it, or it sees `closed` here.
        if closed.load(ordering: .sequentiallyConsistent), subscriptions.withLock({ $0.removeValue(forKey: id) }) != nil {
            mailbox.finish()
        }
    }

    func remove(_ id: Int) {
        _ = subscriptions.withLock { $0.removeValue(forKey: id) }
    }

    func wake() { wakeups.continuation.yield() }

    func close() {
        closed.store(true, ordering: .sequentiallyConsistent)
        let all = subscriptions.withLock { s in
            defer { s.removeAll() }
            return Array(s.values)
        }
        for entry in all { entry.mailbox.finish() }
        wakeups.continuation.finish()
    }

    /// The subscription holding the most buffered bytes, and how many.
    func largest() -> (id: Int, bytes: Int)? {
        let all = subscriptions.withLock { $0.map { ($0.key, $0.value.mailbox) } }
        return all.map { ($0.0, $0.1.bytes) }.filter { $0.1 > 0 }.max { $0.1 < $1.1 }
    }

    /// Ends subscription `id` with a `too_slow` resync (its buffer is freed at once) and logs why.
    func dropTooSlow(_ id: Int, why: String) {
        guard let entry = subscriptions.withLock({ $0.removeValue(forKey: id) }) else { return }
        entry.mailbox.replaceAll(with: .resync(.tooSlow, cursor: entry.cursor))
        log("change feed: subscription \(id) on \(entry.scope) dropped: \(why)")
        onDrop()
    }
}
