import CairnClient
import CairnCore
import CairnProtocol
import Foundation

/// The workloads through cairnd, over `connections` CairnClient connections. Worker `w` uses
/// connection `w % connections`, so a depth above 1 pipelines that many requests on each.
/// The hot workloads (get, put, put-cas) run on connections of their own through the lean line
/// driver (`LinePlan`) unless `typedClient`; CairnClient seeds them and runs the rest.
final class CairnTarget: Target {
    let mode = "cairn"
    let host: String
    let port: Int
    let token: String?
    let typedClient: Bool
    let clients: [CairnClient]
    /// With a cairns:// URL: TLS on every connection, the lean driver's too.
    let tls: ClientTLSOptions?
    var display: String { "\(tls == nil ? "cairn" : "cairns")://\(host):\(port)" }

    static let leanNote =
        "client: the line driver — each connection's workers run on its event loop, requests are written straight into "
        + "ByteBuffers (the bytes CairnClient sends), answers are matched to requests by id in order and scanned, not parsed: "
        + "an error, a null get or a missing version fails the request (--typed-client runs CairnClient instead)"
    static let typedNote =
        "client: CairnClient — one task per worker, every answer parsed into JSONValue and decoded into typed results"

    /// How long each connection waits for cairnd to accept and greet.
    let connectTimeout: Duration

    init(
        url: String, token: String?, connections: Int, typedClient: Bool = false, tls options: ClientTLSOptions = ClientTLSOptions(),
        connectTimeout: Duration = ConnectTimeout.default
    ) async throws {
        let target = try CairnClient.parseTarget(url: url)
        (host, port) = (target.host, target.port)
        let tls = target.tls ? options : nil
        self.tls = tls
        self.token = token
        self.typedClient = typedClient
        self.connectTimeout = connectTimeout
        let (host, port) = (self.host, self.port)
        let opened = Locked<[CairnClient]>([])
        try await forEachConcurrently(connections, width: 16) { _ in
            let client = try await CairnClient.connect(host: host, port: port, token: token, tls: tls, connectTimeout: connectTimeout)
            opened.withLock { $0.append(client) }
        }
        clients = opened.value
        if token == nil, clients.first?.hello["auth"]?.stringValue == "required" {
            throw BenchFailure("cairnd at \(url) requires authentication: set CAIRN_TOKEN to a server-wide admin token")
        }
    }

    func serverPID(_ settings: Settings) async -> Int32? {
        if let pid = settings.serverPID { return pid }
        let port = port
        return await offloaded { ProcessMemory.pid(listeningOn: port) }
    }

    func client(_ worker: Int) -> CairnClient { clients[worker % clients.count] }

    func close() async {
        for client in clients { await client.close() }
    }

    func prepare(_ workload: Workload, _ s: Settings) async throws -> Prepared {
        switch workload {
        case .get: try await get(s)
        case .put: try await put(s)
        case .putCAS: try await putCAS(s)
        case .casContention: try await casContention(s)
        case .blockInsertContention: try await blockInsertContention(s)
        case .search: try await search(s)
        case .eventLatency: try await eventLatency(s)
        case .idleConnections: await idleConnections(s)
        }
    }

    /// Writes `count` items through the open connections.
    func seed(_ ns: @escaping @Sendable (Int) -> Namespace, key: @escaping @Sendable (Int) -> String, count: Int) async throws {
        try await forEachConcurrently(count, width: 64) { i in
            try await self.client(i).put(ns(i), key: key(i), value: Sample.value(i))
        }
    }

    func get(_ s: Settings) async throws -> Prepared {
        let ns = try Namespace(tenant: s.tenant, task: "get")
        try await seed({ _ in ns }, key: { "k\($0)" }, count: s.keys)
        if !typedClient {
            let workload = LineGet(requests: try LineRequests(ns: ns), keys: s.keys, injectUnwritten: s.injectWrongRequests)
            return try await lean(workload, ns, s)
        }
        return Prepared(
            plan: Plan(workers: s.workers) { w, n in
                guard try await self.client(w).send(RPC.Get(ns, key: "k\(n % s.keys)")) != nil else {
                    throw BenchFailure("get k\(n % s.keys) answered null, but the set-up wrote it")
                }
                return Done()
            },
            notes: [Self.typedNote])
    }

    func put(_ s: Settings) async throws -> Prepared {
        let ns = try Namespace(tenant: s.tenant, task: "put")
        if !typedClient { return try await lean(LinePut(requests: try LineRequests(ns: ns), keys: s.keys), ns, s) }
        return Prepared(
            plan: Plan(workers: s.workers) { w, n in
                try await self.client(w).send(RPC.Put(ns, key: "k\(n % s.keys)", value: Sample.value(n)))
                return Done()
            },
            notes: [Self.typedNote])
    }

    func putCAS(_ s: Settings) async throws -> Prepared {
        let ns = try Namespace(tenant: s.tenant, task: "put-cas")
        let note = "one operation = get + put with if_version (two round trips)"
        if !typedClient {
            let workload = LinePutCAS(requests: try LineRequests(ns: ns), injectWrongVersion: s.injectWrongRequests)
            return try await lean(workload, ns, s, notes: [note])
        }
        return Prepared(
            plan: Plan(workers: s.workers) { w, n in
                let c = self.client(w)
                let version = try await c.send(RPC.Get(ns, key: "w\(w)"))?.version ?? 0
                try await c.send(RPC.Put(ns, key: "w\(w)", value: Sample.value(n), ifVersion: version))
                return Done()
            },
            notes: [note, Self.typedNote])
    }

    /// A hot workload on the line driver: its own connections, closed when it ends.
    func lean<W: LineWorkload>(_ workload: W, _ ns: Namespace, _ s: Settings, notes: [String] = []) async throws -> Prepared {
        try LineRequests(ns: ns).verify(ns: ns)
        let plan = try await LinePlan.open(
            host: host, port: port, token: token, tls: try tls.map { options throws(CairnError) in try ClientTLS(options) },
            connectTimeout: connectTimeout, connections: s.connections, depth: s.depth, workload: workload)
        return Prepared(
            plan: plan, notes: notes + [Self.leanNote],
            finish: { _ in
                await plan.close()
                return Findings()
            })
    }

    func casContention(_ s: Settings) async throws -> Prepared {
        let ns = try Namespace(tenant: s.tenant, task: "cas")
        let initial = try await clients[0].put(ns, key: "counter", value: ["n": 0]).version
        let acknowledged = Counter()
        return Prepared(
            plan: Plan(workers: s.workers) { w, n in
                let c = self.client(w)
                var retries = 0
                while true {
                    guard let item = try await c.get(ns, key: "counter"), let count = item.value["n"]?.intValue else {
                        throw BenchFailure("the counter is gone")
                    }
                    if s.injectLostUpdates, n % 10 == 9 {
                        _ = acknowledged.next()
                        return Done(retries: retries)
                    }
                    do {
                        try await c.put(ns, key: "counter", value: ["n": .int(count + 1)], ifVersion: item.version)
                        _ = acknowledged.next()
                        return Done(retries: retries)
                    } catch let error as CairnError where error.reason == .versionConflict {
                        retries += 1
                        await backoff(attempt: retries)
                    }
                }
            },
            notes: [
                "one operation = one acknowledged increment; retries = version conflicts the client re-read and retried (jittered backoff)"
            ],
            latencyMeaning: "first read → increment acknowledged (retries included)",
            finish: { m in
                let item = try? await self.clients[0].get(ns, key: "counter")
                var f = Findings()
                f.checks = checkCount(
                    final: item?.value["n"]?.intValue, version: item?.version, acknowledged: acknowledged.value,
                    initialVersion: initial, errors: m.errors)
                f.metrics["retries_per_increment"] = m.requests > 0 ? Double(m.retries) / Double(m.requests) : 0
                return f
            })
    }

    func blockInsertContention(_ s: Settings) async throws -> Prepared {
        let ns = try Namespace(tenant: s.tenant, task: "blocks")
        let label = s.blockLabel
        try await clients[0].createBlock(ns, label: label, value: "", limit: 1_000_000)
        let acknowledged = Locked(Set<String>())
        return Prepared(
            plan: Plan(workers: s.workers, maxOperations: Settings.maxBlockLines) { w, n in
                let line = "w\(w)-\(n)"
                if s.injectLostUpdates, n % 10 == 9 {
                    acknowledged.withLock { _ = $0.insert(line) }
                    return Done()
                }
                var retries = 0
                while true {
                    do {
                        try await self.client(w).insert(ns, label: label, text: line)
                        acknowledged.withLock { _ = $0.insert(line) }
                        return Done(retries: retries)
                    } catch let error as CairnError where error.reason == .unavailable {
                        retries += 1  // the server gave up under contention and says retry
                        await backoff(attempt: retries)
                    }
                }
            },
            notes: [
                "retries = `unavailable` answers the client retried; the server's own re-runs of aborted transactions are not visible here",
                "each answer carries the whole block text, which grows with the run (at most \(Format.count(Settings.maxBlockLines)) lines)",
            ],
            finish: { m in
                var f = Findings()
                do {
                    let block = try await self.clients[0].block(ns, label: label)
                    f.checks.append(
                        checkLines(in: block.value.stringValue ?? "", acknowledged: acknowledged.value, errors: m.errors))
                } catch {
                    f.checks.append(Check(name: "every acknowledged line landed exactly once", ok: false, detail: "cannot read the block: \(error)"))
                }
                return f
            })
    }

    func search(_ s: Settings) async throws -> Prepared {
        let tenant = s.searchTenant
        let scope = try Scope(tenant: tenant)
        let namespaces = try (0..<10).map { try Namespace(tenant: tenant, task: "t\($0)") }
        let clock = ContinuousClock()
        let seeded = clock.now
        try await seed({ namespaces[$0 % 10] }, key: { "doc-\($0)" }, count: s.searchItems)
        let seedSeconds = (clock.now - seeded).seconds
        // One method value per query word, made (and its filter parsed) once, not per request.
        let searches = try Sample.words.map { word throws(CairnError) in
            try RPC.Search(scope, filter: Sample.filter, query: word, limit: 10)
        }
        return Prepared(
            plan: Plan(workers: s.workers) { w, n in
                let word = Sample.words[n % Sample.words.count]
                let items = try await self.client(w).send(searches[n % searches.count])
                if items.isEmpty { throw BenchFailure("search for \(word.debugDescription) found nothing, but the set-up wrote matches") }
                return Done()
            },
            notes: ["scope: \(Format.count(s.searchItems)) items in 10 namespaces of one tenant; filter \(Sample.filter), one query word"],
            finish: { _ in Findings(metrics: ["seed_seconds": seedSeconds, "scope_items": Double(s.searchItems)]) })
    }

    func eventLatency(_ s: Settings) async throws -> Prepared {
        let tenant = s.eventTenant
        let ns = try Namespace(tenant: tenant, task: "events")
        let subscriber = try await CairnClient.connect(host: host, port: port, token: token, tls: tls, connectTimeout: connectTimeout)
        _ = try await subscriber.subscribe(Scope(tenant: tenant))
        let rendezvous = Rendezvous()
        let listener = Task {
            for await message in subscriber.notifications {
                let now = ContinuousClock.now
                switch message["method"]?.stringValue {
                case "event":
                    let p = message["params"]
                    if let key = p?["key"]?.stringValue, let version = p?["version"]?.intValue {
                        rendezvous.event("\(key)#\(version)", at: now)
                    }
                case "resync": rendezvous.resync()
                default: break
                }
            }
        }
        return Prepared(
            plan: Plan(workers: s.workers, onMeasureStart: { rendezvous.startRecording() }) { w, n in
                let key = "ev-\(w)"
                let written = try await self.client(w).put(ns, key: key, value: ["n": .int(n)])
                rendezvous.ack("\(key)#\(written.version)", at: .now)
                return Done()
            },
            notes: ["one subscriber connection on the tenant's scope; workers write their own keys"],
            latencyMeaning: "write acknowledged → its event received by the subscriber",
            finish: { m in
                await rendezvous.settle(seconds: 5)
                await subscriber.close()
                listener.cancel()
                return rendezvous.findings(writes: m)
            })
    }

    func idleConnections(_ s: Settings) async -> Prepared {
        let (host, port, token, tls, connectTimeout) = (host, port, token, tls, connectTimeout)
        let serverPID = await serverPID(s)
        let rssBefore = await offloaded { serverPID.flatMap(ProcessMemory.residentBytes) }
        let opened = Locked<[CairnClient]>([])
        return Prepared(
            plan: Plan(workers: min(32, s.idleConnections)) { _, _ in
                let client = try await CairnClient.connect(host: host, port: port, token: token, tls: tls, connectTimeout: connectTimeout)
                opened.withLock { $0.append(client) }
                return Done()
            },
            notes: ["each operation opens one connection (and authenticates); they stay open, idle, until the memory is read"],
            latencyMeaning: "connect + hello + auth",
            load: Load(requests: s.idleConnections, duration: nil, warmup: .zero, rate: nil, progress: true),
            finish: { _ in
                let clients = opened.value
                try? await Task.sleep(for: .seconds(1))
                let alive = Counter()
                try? await forEachConcurrently(clients.count, width: 64) { i in
                    if (try? await clients[i].ping()) == true { _ = alive.next() }
                }
                try? await Task.sleep(for: .milliseconds(500))
                let rssAfter = await offloaded { serverPID.flatMap(ProcessMemory.residentBytes) }
                for client in clients { await client.close() }
                return idleFindings(
                    server: "cairnd", wanted: s.idleConnections, open: clients.count, alive: alive.value, before: rssBefore,
                    after: rssAfter, pid: serverPID)
            })
    }
}

/// The numbers and checks of an idle-connections run.
func idleFindings(server: String, wanted: Int, open: Int, alive: Int, before: Double?, after: Double?, pid: Int32?) -> Findings {
    var f = Findings()
    f.checks.append(
        Check(
            name: "every connection opened and answers", ok: open == wanted && alive == wanted,
            detail: "\(open) of \(wanted) opened, \(alive) answered a ping after idling"))
    f.metrics["connections_open"] = Double(alive)
    if let before, let after {
        f.metrics["rss_before_mb"] = before / 1_048_576
        f.metrics["rss_after_mb"] = after / 1_048_576
        f.metrics["rss_per_connection_kb"] = open > 0 ? (after - before) / 1024 / Double(open) : 0
        f.notes.append(
            "\(server) resident memory: \(Format.megabytes(before)) before, \(Format.megabytes(after)) with \(Format.count(alive)) idle connections")
    } else {
        f.notes.append("\(server)'s resident memory is unknown: pass --server-pid (process \(pid.map(String.init) ?? "not found"))")
    }
    return f
}
