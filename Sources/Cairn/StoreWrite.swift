import CairnCore
import CairnRedis

/// What a write wants done, decided from the current state it read under `WATCH`.
struct WritePlan: Sendable {
    enum Action: Sendable {
        /// Store a new version with this value (compact JSON text) and kind.
        case write(valueText: String, kind: ItemKind, block: BlockProperties?)
        /// Store a tombstone.
        case delete
        /// Write nothing; answer with the current state.
        case nothing
    }

    var action: Action
    var op: WriteOp
    /// More commands for the same `MULTI` (attachments, for instance).
    var extraCommands: [RedisCommand] = []
}

/// The state a write reads under `WATCH`, with Redis's clock.
struct WriteContext: Sendable {
    var current: StoredItem
    var nowMs: Int64
    /// Replies to the write's extra reads, in order.
    var extraReplies: [RedisValue]
}

/// What a committed (or skipped) write did.
struct WriteOutcome: Sendable {
    var version: Int
    var createdMs: Int64
    var updatedMs: Int64
    /// The value text now stored (nil after a delete).
    var valueText: String?
    /// Whether the item was live before the write.
    var existed: Bool
    /// Whether anything was written.
    var wrote: Bool
    /// The state read before the write.
    var before: StoredItem
}

/// What an optimistic transaction answers: a fresh answer, or one read from a request record.
enum Answer<T: Sendable>: Sendable {
    case fresh(T)
    case recorded(JSONValue, replayed: Bool)
}

/// How a write's answer becomes a request record and back.
struct ResultCodec<T: Sendable>: Sendable {
    var encode: @Sendable (T) -> JSONValue
    var decode: @Sendable (JSONValue) throws(CairnError) -> T
}

/// What an optimistic transaction decided after its reads.
enum Decision<T: Sendable>: Sendable {
    /// `MULTI`, these commands, `EXEC`; then answer `T`.
    case commit([RedisCommand], T)
    /// Write nothing (`UNWATCH`) and answer `T`.
    case done(T)
}

extension Store {
    /// Runs one optimistic transaction: `WATCH` the keys, run `reads` (one round trip), let
    /// `decide` choose, then `MULTI` … `EXEC` its commands (one round trip). If a watched key
    /// changed in between, `EXEC` writes nothing and the whole thing runs again after a jittered
    /// backoff, up to `maxWriteAttempts` times. It runs on the caller's event loop over a Redis
    /// connection of its own (see `RedisAsyncClient`); a `CairnError` that `decide` throws
    /// refuses the request and nothing is written.
    func optimistic<T: Sendable>(
        watch: [String], reads: [RedisCommand], what: @autoclosure () -> String,
        decide: @escaping @Sendable ([RedisValue]) throws(CairnError) -> Decision<T>
    ) async throws(CairnError) -> T {
        try await optimistic(watch: watch, reads: reads, what: what(), request: nil, codec: nil, decide: decide).result
    }

    /// `optimistic` for a write that may carry a request id: the record key is watched and
    /// read with the rest; a record already there answers the recorded result (replayed) or
    /// `reused`; otherwise the record goes into the same `MULTI` (even when `decide` writes
    /// nothing, so that a replay answers the same). When `EXEC` got no answer, the outcome is
    /// settled on another connection (see `settle`).
    func optimistic<T: RecordableResult>(
        watch: [String], reads: [RedisCommand], what: @autoclosure () -> String, request tag: RequestTag?,
        decide: @escaping @Sendable ([RedisValue]) throws(CairnError) -> Decision<T>
    ) async throws(CairnError) -> Recorded<T> {
        try await optimistic(
            watch: watch, reads: reads, what: what(), request: tag,
            codec: ResultCodec(encode: { $0.recorded }, decode: { json throws(CairnError) in try T(recorded: json) }), decide: decide)
    }

    private func optimistic<T: Sendable>(
        watch: [String], reads: [RedisCommand], what: @autoclosure () -> String, request tag: RequestTag?,
        codec: ResultCodec<T>?,
        decide: @escaping @Sendable ([RedisValue]) throws(CairnError) -> Decision<T>
    ) async throws(CairnError) -> Recorded<T> {
        let watch = watch + (tag.map { [$0.key] } ?? [])
        let reads = reads + (tag.map { [["GET", $0.key]] } ?? [])
        let retentionMs = String(options.requestIDRetentionMs)
        for attempt in 0..<options.maxWriteAttempts {
            let outcome: Answer<T>?
            do {
                outcome = try await redis.run { connection -> Answer<T>? in
                    let replies = try await connection.pipeline([RedisCommand(["WATCH"] + watch)] + reads)
                    for reply in replies { try reply.checked() }
                    var readReplies = Array(replies.dropFirst())
                    var recording = false
                    if let tag {
                        if case .record(let method, let target, let result) = try RequestTag.read(readReplies.removeLast()) {
                            connection.sendWithoutWaiting([["UNWATCH"]])
                            try tag.checkSameWrite(method: method, target: target)
                            return .recorded(result, replayed: true)
                        }
                        recording = true
                    }
                    let decision: Decision<T>
                    do {
                        decision = try decide(readReplies)
                    } catch {
                        // The reply is not awaited: the connection's next user's commands come after it.
                        connection.sendWithoutWaiting([["UNWATCH"]])
                        throw error
                    }
                    var commands: [RedisCommand]
                    let answer: T
                    switch decision {
                    case .done(let a) where !recording:
                        connection.sendWithoutWaiting([["UNWATCH"]])
                        return .fresh(a)
                    case .done(let a):
                        (commands, answer) = ([], a)
                    case .commit(let c, let a):
                        (commands, answer) = (c, a)
                    }
                    if let tag, let codec {
                        commands.append(["SET", tag.key, tag.record(codec.encode(answer)), "PX", retentionMs])
                    }
                    switch try await connection.transaction(commands) {
                    case .aborted:
                        return nil
                    case .committed(let results):
                        if let failed = results.first(where: { $0.errorMessage != nil }) {
                            // Everything is validated before MULTI, so this is a bug or Redis out of memory.
                            throw RedisError(.server, "a command inside EXEC failed: \(failed)")
                        }
                        return .fresh(answer)
                    }
                }
            } catch where error.reason == .outcomeUnknown {
                guard let tag else { throw error }
                switch await settle(tag) {
                case .notApplied: outcome = nil  // settled: it wrote nothing, so it may run again
                case .applied(let result): outcome = .recorded(result, replayed: false)
                case .unknown: throw error
                }
            }
            switch outcome {
            case .fresh(let answer)?: return Recorded(answer)
            case .recorded(let result, let replayed)?:
                guard let codec else { throw Store.unreadableRecord }
                return Recorded(try codec.decode(result), replayed: replayed)
            case nil: await Store.backoff(attempt: attempt)
            }
        }
        throw CairnError.unavailable(
            "gave up after \(options.maxWriteAttempts) attempts: \(what()) is changing too fast; retry", retryAfterMs: 50)
    }

    /// One write of one item: reads its header (and value when asked), Redis's clock and any
    /// `extraReads` under `WATCH`, lets `plan` decide, and commits the item, its history entry,
    /// the tenant index and a change-stream entry together (see `optimistic`).
    /// `request`: the write's request id record (see `optimistic(…request:…)`); `result`: the
    /// answer made of the outcome, which is what a record keeps.
    func commitWrite<R: RecordableResult>(
        ns: Namespace, key: String, attribution: Attribution, readValue: Bool,
        extraWatch: [String] = [], extraReads: [RedisCommand] = [], request: RequestTag?,
        result: @escaping @Sendable (WriteOutcome) -> R,
        plan: @escaping @Sendable (WriteContext) throws(CairnError) -> WritePlan
    ) async throws(CairnError) -> Recorded<R> {
        let itemKey = layout.item(ns, key)
        let layout = self.layout
        let options = self.options
        var reads: [RedisCommand] = [readValue ? StoredItem.readAll(itemKey) : RedisCommand(["HMGET", itemKey] + ItemField.header)]
        reads.append(["TIME"])
        reads.append(contentsOf: extraReads)
        return try await optimistic(
            watch: [itemKey] + extraWatch, reads: reads, what: "\(ns) key \(key.debugDescription)", request: request
        ) { replies throws(CairnError) -> Decision<R> in
            switch try Store.decideWrite(
                replies, ns: ns, key: key, attribution: attribution, readValue: readValue, layout: layout, options: options, plan: plan)
            {
            case .done(let outcome): return .done(result(outcome))
            case .commit(let commands, let outcome): return .commit(commands, result(outcome))
            }
        }
    }

    /// The commands and outcome of one item write, from the state read under `WATCH`.
    static func decideWrite(
        _ replies: [RedisValue], ns: Namespace, key: String, attribution: Attribution, readValue: Bool, layout: KeyLayout,
        options: StoreOptions, plan: (WriteContext) throws(CairnError) -> WritePlan
    ) throws(CairnError) -> Decision<WriteOutcome> {
        let current = readValue ? StoredItem(all: replies[0]) : StoredItem(header: replies[0])
        let now = Store.milliseconds(fromTime: replies[1])
        let decided = try plan(WriteContext(current: current, nowMs: now, extraReplies: Array(replies.dropFirst(2))))
        let updated = max(now, current.updatedMs)
        let created = current.isLive ? current.createdMs : updated
        let version = current.version + 1
        var commands: [RedisCommand]
        var valueText: String?
        switch decided.action {
        case .nothing:
            return .done(
                WriteOutcome(
                    version: current.liveVersion, createdMs: current.createdMs, updatedMs: current.updatedMs,
                    valueText: current.valueText, existed: current.isLive, wrote: false, before: current))
        case .write(let text, let kind, let block):
            valueText = text
            commands = Store.writeCommands(
                layout: layout, options: options, ns: ns, key: key, version: version, createdMs: created,
                updatedMs: updated, valueText: text, kind: kind, block: block, op: decided.op, attribution: attribution)
        case .delete:
            commands = Store.deleteCommands(
                layout: layout, options: options, ns: ns, key: key, version: version, updatedMs: updated,
                kind: current.kind ?? .item, attribution: attribution)
        }
        commands.append(contentsOf: decided.extraCommands)
        return .commit(
            commands,
            WriteOutcome(
                version: version, createdMs: created, updatedMs: updated, valueText: valueText, existed: current.isLive,
                wrote: true, before: current))
    }

    /// Sleeps a random time that grows with `attempt` (full jitter, capped at about 20 ms).
    static func backoff(attempt: Int) async {
        let cap = min(20_000_000, 200_000 << min(attempt, 7))
        try? await Task.sleep(nanoseconds: UInt64.random(in: 0...UInt64(cap)))
    }

    /// Milliseconds since 1970 from a `TIME` reply.
    package static func milliseconds(fromTime reply: RedisValue) -> Int64 {
        guard let parts = reply.array, parts.count == 2, let s = parts[0].int, let us = parts[1].int else { return 0 }
        return Int64(s) * 1000 + Int64(us) / 1000
    }

    /// The commands inside a write's `MULTI` (cairn-bench's raw baseline sends these very ones).
    package static func writeCommands(
        layout: KeyLayout, options: StoreOptions, ns: Namespace, key: String, version: Int, createdMs: Int64,
        updatedMs: Int64, valueText: String, kind: ItemKind, block: BlockProperties?, op: WriteOp,
        attribution: Attribution
    ) -> [RedisCommand] {
        let itemKey = layout.item(ns, key)
        var set = [
            "HSET", itemKey, ItemField.value, valueText, ItemField.version, String(version), ItemField.kind, kind.rawValue,
            ItemField.created, String(createdMs), ItemField.updated, String(updatedMs), ItemField.by, attribution.principal,
        ]
        var remove = ["HDEL", itemKey, ItemField.deleted]
        if let agent = attribution.agent { set += [ItemField.agent, agent] } else { remove.append(ItemField.agent) }
        if let block {
            set += [ItemField.limit, String(block.limit), ItemField.readOnly, block.readOnly ? "1" : "0"]
            if let d = block.description { set += [ItemField.description, d] } else { remove.append(ItemField.description) }
            if let m = block.metadata { set += [ItemField.metadata, m.serialized()] } else { remove.append(ItemField.metadata) }
        } else {
            remove += ItemField.blockFields
        }
        let entry = HistoryRecord.encode(
            version: version, op: op, atMs: updatedMs, attribution: attribution, valueText: valueText, kind: kind,
            createdMs: createdMs, block: block)
        return [
            RedisCommand(set), RedisCommand(remove),
            ["LPUSH", layout.history(ns, key), entry],
            ["LTRIM", layout.history(ns, key), "0", String(options.historyLimit - 1)],
            ["ZADD", layout.index(ns.tenant), String(updatedMs), layout.member(ns, key)],
            [
                "HSET", layout.documents(ns.tenant), layout.member(ns, key),
                SearchDocument.encode(updatedMs: updatedMs, kind: kind, description: block?.description, valueText: valueText),
            ],
            streamCommand(layout: layout, options: options, ns: ns, key: key, kind: kind, version: version, op: op, atMs: updatedMs, attribution: attribution),
        ]
    }

    static func deleteCommands(
        layout: KeyLayout, options: StoreOptions, ns: Namespace, key: String, version: Int, updatedMs: Int64,
        kind: ItemKind, attribution: Attribution
    ) -> [RedisCommand] {
        let itemKey = layout.item(ns, key)
        var set = [
            "HSET", itemKey, ItemField.version, String(version), ItemField.updated, String(updatedMs), ItemField.by,
            attribution.principal, ItemField.deleted, "1",
        ]
        var remove = ["HDEL", itemKey, ItemField.value, ItemField.kind, ItemField.created] + ItemField.blockFields
        if let agent = attribution.agent { set += [ItemField.agent, agent] } else { remove.append(ItemField.agent) }
        let entry = HistoryRecord.encode(
            version: version, op: .delete, atMs: updatedMs, attribution: attribution, valueText: nil, kind: kind,
            createdMs: nil, block: nil)
        return [
            RedisCommand(set), RedisCommand(remove),
            ["LPUSH", layout.history(ns, key), entry],
            ["LTRIM", layout.history(ns, key), "0", String(options.historyLimit - 1)],
            ["ZREM", layout.index(ns.tenant), layout.member(ns, key)],
            ["HDEL", layout.documents(ns.tenant), layout.member(ns, key)],
            streamCommand(layout: layout, options: options, ns: ns, key: key, kind: kind, version: version, op: .delete, atMs: updatedMs, attribution: attribution),
        ]
    }

    static func streamCommand(
        layout: KeyLayout, options: StoreOptions, ns: Namespace, key: String, kind: ItemKind, version: Int, op: WriteOp,
        atMs: Int64, attribution: Attribution
    ) -> RedisCommand {
        RedisCommand(
            ["XADD", layout.stream(ns.tenant), "MAXLEN", "~", String(options.streamLength), "*"]
                + StreamRecord.fields(
                    ns: ns, key: key, kind: kind, version: version, op: op, atMs: atMs, attribution: attribution))
    }
}
