import Cairn
import CairnCore
import CairnRedis
import Foundation

/// The same workloads' Redis commands, sent straight through the project's Redis layer
/// (`RedisPool` over SwiftNIO: up to `connections` lent connections per event loop), with no cairnd
/// in between: the substrate's limit for the same work. Items are seeded, and read back for the
/// checks, through an in-process `Store` on the same pool.
final class RawTarget: Target {
    let mode = "raw"
    let pool: RedisPool
    let store: Store
    let writer: RawWriter
    let display: String

    init(url: String, connections: Int) throws {
        var configuration = try RedisConfiguration(url: url, poolSize: connections)
        configuration.commandTimeoutMilliseconds = 10_000
        display = configuration.description
        pool = RedisPool(configuration: configuration)
        store = Store(redis: pool)
        writer = RawWriter(pool: pool, layout: store.layout)
    }

    var layout: KeyLayout { store.layout }
    let attribution = Attribution(principal: "bench")

    func close() async { await pool.shutdown() }

    /// redis-server's process id from `INFO server`, when it runs on this machine.
    func serverPID(_ settings: Settings) async -> Int32? {
        let host = pool.configuration.host
        guard host == "localhost" || host == "::1" || host.hasPrefix("127."),
            let info = try? await pool.send(["INFO", "server"]).checked().string,
            let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("process_id:") })
        else { return nil }
        return Int32(line.dropFirst("process_id:".count))
    }

    func prepare(_ workload: Workload, _ s: Settings) async throws -> Prepared {
        var prepared: Prepared
        switch workload {
        case .get: prepared = try await get(s)
        case .put: prepared = try put(s)
        case .putCAS: prepared = try putCAS(s)
        case .casContention: prepared = try await casContention(s)
        case .blockInsertContention: prepared = try await blockInsertContention(s)
        case .search: prepared = try await search(s)
        case .eventLatency: prepared = try await eventLatency(s)
        case .idleConnections: prepared = try await idleConnections(s)
        }
        if s.depth > 1 && workload != .get {
            prepared.notes.append("raw mode pipelines only get; this ran \(s.connections) workers, one operation in flight each")
        }
        return prepared
    }

    /// Writes `count` items through the in-process store.
    func seed(_ ns: @escaping @Sendable (Int) -> Namespace, key: @escaping @Sendable (Int) -> String, count: Int) async throws {
        try await forEachConcurrently(count, width: 64) { i in
            try await self.store.put(ns(i), key: key(i), value: Sample.value(i), by: self.attribution)
        }
    }

    func get(_ s: Settings) async throws -> Prepared {
        let ns = try Namespace(tenant: s.tenant, task: "get")
        try await seed({ _ in ns }, key: { "k\($0)" }, count: s.keys)
        let keys = (0..<s.keys).map { layout.item(ns, "k\($0)") }
        let depth = s.depth
        return Prepared(
            plan: Plan(workers: s.connections, requestsPerOperation: depth) { _, n in
                let batch = (0..<depth).map { RedisCommand(["HGETALL", keys[(n * depth + $0) % keys.count]]) }
                for reply in try await self.pool.pipeline(batch) {
                    guard let fields = reply.array, !fields.isEmpty else { throw BenchFailure("HGETALL answered \(reply)") }
                }
                return Done(requests: depth)
            },
            notes: ["HGETALL of an item hash\(depth > 1 ? ", \(depth) per round trip; each request's latency is its batch's" : "")"])
    }

    func put(_ s: Settings) throws -> Prepared {
        let ns = try Namespace(tenant: s.tenant, task: "put")
        return Prepared(
            plan: Plan(workers: s.connections) { _, n in
                let text = Sample.value(n).serialized()
                let (_, aborted) = try await self.writer.write(ns, key: "k\(n % s.keys)", ifVersion: nil, op: .put, readValue: false) { _ in
                    (text, false)
                }
                return Done(retries: aborted)
            },
            notes: [RawTarget.writeNote, "retries = aborted EXECs run again"])
    }

    static let writeNote =
        "commands issued by cairn-bench (mirroring StoreWrite.swift): WATCH+HMGET+TIME, then MULTI HSET HDEL LPUSH LTRIM ZADD XADD EXEC"

    func putCAS(_ s: Settings) throws -> Prepared {
        let ns = try Namespace(tenant: s.tenant, task: "put-cas")
        return Prepared(
            plan: Plan(workers: s.connections) { w, n in
                let (version, _) = try await self.writer.read(ns, key: "w\(w)")
                let text = Sample.value(n).serialized()
                let (outcome, aborted) = try await self.writer.write(ns, key: "w\(w)", ifVersion: version, op: .put, readValue: false) { _ in
                    (text, false)
                }
                if case .conflict(let current) = outcome {
                    throw BenchFailure("version conflict on a key only this worker writes (read \(version), found \(current))")
                }
                return Done(retries: aborted)
            },
            notes: ["one operation = HGETALL, then the write with if_version", RawTarget.writeNote])
    }

    func casContention(_ s: Settings) async throws -> Prepared {
        let ns = try Namespace(tenant: s.tenant, task: "cas")
        let initial = try await store.put(ns, key: "counter", value: ["n": 0], by: attribution).version
        let acknowledged = Counter()
        let aborted = Counter()
        return Prepared(
            plan: Plan(workers: s.connections) { _, n in
                var retries = 0
                while true {
                    let (version, text) = try await self.writer.read(ns, key: "counter")
                    guard let text, let count = (try? JSONValue(parsing: text))?["n"]?.intValue else {
                        throw BenchFailure("the counter is gone")
                    }
                    if s.injectLostUpdates, n % 10 == 9 {
                        _ = acknowledged.next()
                        return Done(retries: retries)
                    }
                    let (outcome, aborts) = try await self.writer.write(ns, key: "counter", ifVersion: version, op: .put, readValue: false) { _ in
                        ("{\"n\":\(count + 1)}", false)
                    }
                    for _ in 0..<aborts { _ = aborted.next() }
                    if case .committed = outcome {
                        _ = acknowledged.next()
                        return Done(retries: retries)
                    }
                    retries += 1
                    await backoff(attempt: retries)
                }
            },
            notes: [
                "one operation = one acknowledged increment: HGETALL, then the write with if_version; retries = version conflicts",
                RawTarget.writeNote,
            ],
            latencyMeaning: "first read → increment committed (retries included)",
            finish: { m in
                let item = try? await self.store.get(ns, key: "counter")
                var f = Findings()
                f.checks = checkCount(
                    final: item?.value["n"]?.intValue, version: item?.version, acknowledged: acknowledged.value,
                    initialVersion: initial, errors: m.errors)
                f.metrics["retries_per_increment"] = m.requests > 0 ? Double(m.retries) / Double(m.requests) : 0
                f.metrics["aborted_exec"] = Double(aborted.value)
                return f
            })
    }

    func blockInsertContention(_ s: Settings) async throws -> Prepared {
        let ns = try Namespace(tenant: s.tenant, task: "blocks")
        let label = s.blockLabel
        _ = try await store.createBlock(ns, label: label, BlockDraft(properties: BlockProperties(limit: 1_000_000)), by: attribution)
        let acknowledged = Locked(Set<String>())
        return Prepared(
            plan: Plan(workers: s.connections, maxOperations: Settings.maxBlockLines) { w, n in
                let line = "w\(w)-\(n)"
                if s.injectLostUpdates, n % 10 == 9 {
                    acknowledged.withLock { _ = $0.insert(line) }
                    return Done()
                }
                let (_, aborted) = try await self.writer.write(ns, key: label, ifVersion: nil, op: .insert, readValue: true) { current in
                    guard current.live, current.kind == "block", let stored = current.valueText,
                        let text = try JSONValue(parsing: stored).stringValue
                    else { throw BenchFailure("the block is gone") }
                    return (JSONValue.string(try BlockText.insert(line, into: text, afterLine: -1)).serialized(), true)
                }
                acknowledged.withLock { _ = $0.insert(line) }
                return Done(retries: aborted)
            },
            notes: [
                "one operation = WATCH, read the block's text, append the line, MULTI…EXEC; retries = aborted EXECs run again",
                RawTarget.writeNote,
            ],
            finish: { m in
                var f = Findings()
                do {
                    let block = try await self.store.block(ns, label: label)
                    f.checks.append(checkLines(in: block.value.stringValue ?? "", acknowledged: acknowledged.value, errors: m.errors))
                } catch {
                    f.checks.append(Check(name: "every acknowledged line landed exactly once", ok: false, detail: "cannot read the block: \(error)"))
                }
                return f
            })
    }

    func search(_ s: Settings) async throws -> Prepared {
        let tenant = s.searchTenant
        let namespaces = try (0..<10).map { try Namespace(tenant: tenant, task: "t\($0)") }
        let clock = ContinuousClock()
        let seeded = clock.now
        try await seed({ namespaces[$0 % 10] }, key: { "doc-\($0)" }, count: s.searchItems)
        let seedSeconds = (clock.now - seeded).seconds
        let documentsKey = layout.documents(tenant)
        let itemPrefix = layout.tenantRoot(tenant) + ":i:"
        let expected = s.searchItems
        return Prepared(
            plan: Plan(workers: s.connections) { _, _ in
                let read = try await self.pool.withConnection { c -> Int in
                    let documents = try await c.send(["HGETALL", documentsKey]).checked().array ?? []
                    let members = stride(from: 0, to: documents.count, by: 2).compactMap { documents[$0].string }
                    _ = try await c.pipeline(members.prefix(10).map { ["HGETALL", itemPrefix + $0] })  // the page
                    return members.count
                }
                if read != expected { throw BenchFailure("search read \(read) items, expected \(expected)") }
                return Done()
            },
            notes: [
                "the store's Redis commands for a filtered search: HGETALL of the tenant's search documents, then HGETALL of a page of 10 items; no decoding, filtering or scoring"
            ],
            finish: { _ in Findings(metrics: ["seed_seconds": seedSeconds, "scope_items": Double(s.searchItems)]) })
    }

    func eventLatency(_ s: Settings) async throws -> Prepared {
        // Each worker writes in a tenant of its own, so each stream's notifications are in its
        // writer's order: keyspace notifications carry only the key and the command.
        let namespaces = try (0..<s.connections).map { try Namespace(tenant: "\(s.eventTenant)-w\($0)", task: "events") }
        let database = pool.configuration.database
        let channelPrefix = "__keyspace@\(database)__:"
        // "cairn:{<event tenant>-w" then anything: every writer's stream key.
        let pattern = channelPrefix + RawTarget.globEscaped(String(layout.tenantRoot(s.eventTenant + "-w").dropLast())) + "*"
        let previous = try await enableKeyspaceNotifications()
        let rendezvous = Rendezvous()
        let connected = Locked(false)
        let subscriber = RedisSubscriber(
            configuration: pool.configuration, patterns: [pattern],
            onMessage: { channel, message in
                guard message == "xadd" else { return }
                rendezvous.eventNext(on: String(channel.dropFirst(channelPrefix.count)), at: .now)
            },
            onConnectionChange: { up, _ in connected.withLock { $0 = up } })
        subscriber.start()
        let deadline = ContinuousClock.now + .seconds(5)
        while !connected.value, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        guard connected.value else {
            subscriber.stop()
            throw BenchFailure("could not subscribe to keyspace notifications on \(display)")
        }
        var notes = [
            "one pub/sub connection (RedisSubscriber) on keyspace notifications of the writers' streams; the write is the raw put sequence (its XADD fires the notification)"
        ]
        if let previous {
            notes.append("set Redis notify-keyspace-events to include Kt (was \(previous.debugDescription)), as cairnd does at start; left so")
        }
        return Prepared(
            plan: Plan(workers: s.connections, onMeasureStart: { rendezvous.startRecording() }) { w, n in
                let ns = namespaces[w]
                let text = "{\"n\":\(n)}"
                _ = try await self.writer.write(ns, key: "ev", ifVersion: nil, op: .put, readValue: false) { _ in (text, false) }
                rendezvous.ackNext(on: self.layout.stream(ns.tenant), at: .now)
                return Done()
            },
            notes: notes,
            latencyMeaning: "EXEC answered → keyspace notification of its XADD received",
            finish: { m in
                await rendezvous.settle(seconds: 5)
                subscriber.stop()
                return rendezvous.findings(writes: m)
            })
    }

    /// Makes sure `notify-keyspace-events` has `K` and `t`, as cairnd does at start, and leaves
    /// it so (a cairnd on the same Redis relies on it); returns the old setting when it changed it.
    func enableKeyspaceNotifications() async throws -> String? {
        let reply = try await pool.send(["CONFIG", "GET", "notify-keyspace-events"]).checked()
        let flags = reply.array?.last?.string ?? ""
        let hasK = flags.contains("K")
        let hasT = flags.contains("t") || flags.contains("A")
        if hasK && hasT { return nil }
        var wanted = flags
        if !hasK { wanted += "K" }
        if !hasT { wanted += "t" }
        try await pool.send(["CONFIG", "SET", "notify-keyspace-events", wanted]).checked()
        return flags
    }

    static func globEscaped(_ text: String) -> String {
        var out = ""
        for c in text {
            if "*?[]\\".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }

    func idleConnections(_ s: Settings) async throws -> Prepared {
        let configuration = pool.configuration
        let before = try await residentMemory()
        let opened = Locked<[RedisChannelConnection]>([])
        return Prepared(
            plan: Plan(workers: min(32, s.idleConnections)) { _, _ in
                // A connection outside the pool, kept aside.
                let connection = try await RedisChannelConnection.open(configuration)
                try await connection.run(["PING"])
                opened.withLock { $0.append(connection) }
                return Done()
            },
            notes: ["each operation opens one Redis connection over SwiftNIO (connect + PING); resident memory is redis-server's used_memory_rss"],
            latencyMeaning: "connect + PING",
            load: Load(requests: s.idleConnections, duration: nil, warmup: .zero, rate: nil, progress: true),
            finish: { _ in
                let connections = opened.value
                try? await Task.sleep(for: .seconds(1))
                var alive = 0
                for c in connections where (try? await c.run(["PING"])) != nil { alive += 1 }
                let after = try? await self.residentMemory()
                for c in connections { c.close() }
                return idleFindings(
                    server: "redis-server", wanted: s.idleConnections, open: connections.count, alive: alive, before: before,
                    after: after ?? nil, pid: nil)
            })
    }

    /// redis-server's `used_memory_rss`, in bytes.
    func residentMemory() async throws -> Double? {
        let info = try await pool.send(["INFO", "memory"]).checked().string ?? ""
        let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("used_memory_rss:") }
        return line.flatMap { Double($0.dropFirst("used_memory_rss:".count)) }
    }
}
