import ArgumentParser
import CairnClient
import CairnCore
import CairnRedis
import Foundation

@main
struct CairnBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cairn-bench",
        abstract: "Load generator for cairnd, and the same work straight at Redis for comparison.",
        discussion: """
            Through cairnd at --url or $CAIRN_URL, with the admin token in $CAIRN_TOKEN:
              cairn-bench get put
              cairn-bench get -c 50 -P 16 -d 10    (16 in flight per connection, 10 s)
              cairn-bench all -n 2000 --json
            The same Redis commands straight through RedisPool, no cairnd:
              cairn-bench put-cas --raw --redis-url redis://127.0.0.1:6379
            One comparison table from earlier --json/--output files:
              cairn-bench report runs/*.json --redis-benchmark get=rb.csv

            Workloads: \(Workload.allCases.map(\.rawValue).joined(separator: ", ")), or all
            (`cairn-bench help run` says what each does). Exit status: 0 when every check
            passed and no request failed; 1 otherwise.
            """,
        subcommands: [Run.self, Report.self, Scan.self],
        defaultSubcommand: Run.self)
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run workloads and print their throughput and latency.",
        discussion: Workload.allCases.map { "\($0.rawValue): \($0.summary)" }.joined(separator: "\n"))

    @Argument(help: "Workloads to run, in order, or `all`.")
    var workloads: [String]

    @Option(help: "cairnd to load. Env CAIRN_URL. Default cairn://127.0.0.1:7420. The token comes from CAIRN_TOKEN (a server-wide admin token).")
    var url: String?

    @Option(name: .customLong("tls-ca"), help: "PEM CA file that signs cairnd's certificate, for a cairns:// --url. Env CAIRN_TLS_CA. Default: the system's CAs.")
    var tlsCA: String?

    @Option(help: "Seconds each connection waits for cairnd to accept and greet. Env CAIRN_CONNECT_TIMEOUT. Default 5.")
    var connectTimeout: Double?

    @Flag(help: "Send the workloads' Redis commands straight through RedisPool instead (needs --redis-url).")
    var raw = false

    @Option(help: "Redis for --raw. Env CAIRN_REDIS_URL.")
    var redisURL: String?

    @Flag(help: "Run get, put and put-cas through CairnClient (every answer parsed and decoded, a task per worker) instead of the lean line driver.")
    var typedClient = false

    @Option(name: [.customShort("c"), .long], help: "Connections (in --raw: hiredis connections, one per pool thread).")
    var connections = 50

    @Option(name: [.customShort("P"), .long], help: "Requests in flight on each connection (pipelining).")
    var depth = 1

    @Option(name: [.customShort("n"), .long], help: "Requests in the measured phase (after warm-up).")
    var requests: Int?

    @Option(name: [.customShort("d"), .long], help: "Seconds of the measured phase. Default 5 unless --requests is given.")
    var duration: Double?

    @Option(help: "Seconds of unrecorded load before measuring.")
    var warmup = 1.0

    @Option(help: "Pace to this many operations per second in all (latency then counts from each operation's due time).")
    var rate: Double?

    @Option(help: "Pace to --rate-fraction of the throughput in this earlier --json result file (its first result).")
    var rateFrom: String?

    @Option(help: "The fraction of --rate-from's throughput to pace to.")
    var rateFraction = 0.5

    @Option(help: "Distinct keys get and put cycle through.")
    var keys = 1000

    @Option(help: "Pad every written value with this many more bytes of text (to see how cost grows with value size).")
    var valueBytes = 0

    @Option(help: "Items in the scope search runs over.")
    var searchItems = 10_000

    @Option(help: "Connections idle-connections opens.")
    var idleConnections = 1000

    @Option(help: "The process whose resident memory idle-connections reports. Default: the one listening on the cairnd port.")
    var serverPID: Int32?

    @Option(help: "Tenant to write under. Default a new bench-<random> tenant.")
    var tenant: String?

    @Option(help: "Row name for `cairn-bench report` (one workload only). Default the workload's name.")
    var label: String?

    @Flag(help: "Print the results as JSON instead of a table.")
    var json = false

    @Option(help: "Also write the JSON results to this file.")
    var output: String?

    @Flag(help: "No progress line.")
    var noProgress = false

    @Flag(help: .hidden)
    var injectLostUpdates = false

    @Flag(help: .hidden)
    var injectWrongRequests = false

    func validate() throws {
        guard connections >= 1, depth >= 1 else { throw ValidationError("--connections and --depth must be at least 1") }
        if let requests, requests < 1 { throw ValidationError("--requests must be at least 1") }
        if let duration, duration <= 0 { throw ValidationError("--duration must be positive") }
        guard keys >= 1, searchItems >= 1, idleConnections >= 1 else {
            throw ValidationError("--keys, --search-items and --idle-connections must be at least 1")
        }
        do {
            _ = try ConnectTimeout.resolve(seconds: connectTimeout)
        } catch {
            throw ValidationError(error.message)
        }
        if label != nil, try selected().count != 1 { throw ValidationError("--label names one workload's row; run one workload") }
    }

    func selected() throws -> [Workload] {
        if workloads == ["all"] { return Workload.allCases }
        return try workloads.map { name in
            guard let w = Workload(rawValue: name) else {
                throw ValidationError("unknown workload \(name.debugDescription); use one of \(Workload.allCases.map(\.rawValue).joined(separator: ", ")) or all")
            }
            return w
        }
    }

    func run() async throws {
        raiseOpenFileLimit()
        Sample.padding = String(repeating: "x", count: max(0, valueBytes))
        let environment = ProcessInfo.processInfo.environment
        let chosen = try selected()
        let started = Timestamp(millisecondsSince1970: Int64(Date().timeIntervalSince1970 * 1000)).rfc3339
        let host = await offloaded { HostInfo.current() }
        let settings = Settings(
            connections: connections, depth: depth, keys: keys, searchItems: searchItems, idleConnections: idleConnections,
            tenant: tenant ?? "bench-\(UUID().uuidString.prefix(8).lowercased())",
            runID: String(UUID().uuidString.suffix(6).lowercased()), serverPID: serverPID,
            injectLostUpdates: injectLostUpdates, injectWrongRequests: injectWrongRequests)
        let load = Load(
            requests: requests, duration: duration.map { .milliseconds(Int($0 * 1000)) } ?? (requests == nil ? .seconds(5) : nil),
            warmup: .milliseconds(Int(warmup * 1000)), rate: try await pacedRate(), progress: !noProgress)

        let target: any Target
        if raw {
            guard let redis = redisURL ?? environment["CAIRN_REDIS_URL"].flatMap({ $0.isEmpty ? nil : $0 }) else {
                throw ValidationError("--raw needs --redis-url (or CAIRN_REDIS_URL)")
            }
            target = try RawTarget(url: redis, connections: connections)
        } else {
            let cairn = url ?? environment["CAIRN_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "cairn://127.0.0.1:7420"
            let token = environment["CAIRN_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            let tlsCA = tlsCA ?? environment["CAIRN_TLS_CA"].flatMap { $0.isEmpty ? nil : $0 }
            target = try await CairnTarget(
                url: cairn, token: token, connections: connections, typedClient: typedClient, tls: ClientTLSOptions(caFile: tlsCA),
                connectTimeout: try ConnectTimeout.resolve(seconds: connectTimeout))
        }

        var results: [WorkloadResult] = []
        for workload in chosen {
            results.append(await measure(workload, on: target, settings: settings, load: load))
        }
        await target.close()

        let document = RunDocument(
            startedAt: started, host: host, arguments: CommandLine.arguments.dropFirst().map(Run.redacted), results: results)
        let encoded = try RunDocument.encoder().encode(document)
        if let output {
            try await offloadedIO { try encoded.write(to: URL(fileURLWithPath: output)) }
        }
        if json {
            print(String(decoding: encoded, as: UTF8.self))
        } else {
            print(RunTable.render(document, tenant: settings.tenant))
        }
        let failed = results.filter { !$0.ok }
        if !failed.isEmpty {
            for r in failed {
                for c in r.checks where !c.ok { FileHandle.standardError.write(Data("cairn-bench: FAILED \(r.label) (\(r.mode)): \(c.name): \(c.detail)\n".utf8)) }
                if r.errors > 0 {
                    let sample = r.errorSamples.first.map { ": \($0)" } ?? ""
                    FileHandle.standardError.write(Data("cairn-bench: FAILED \(r.label) (\(r.mode)): \(r.errors) requests failed\(sample)\n".utf8))
                }
            }
            throw ExitCode(1)
        }
    }

    /// An argument fit to record: a Redis URL loses its password.
    static func redacted(_ argument: String) -> String {
        guard argument.hasPrefix("redis://"), argument.contains("@") else { return argument }
        return (try? RedisConfiguration(url: argument).description) ?? "redis://***"
    }

    func pacedRate() async throws -> Double? {
        if let rate { return rate }
        guard let rateFrom else { return nil }
        let data = try await offloadedIO { try Data(contentsOf: URL(fileURLWithPath: rateFrom)) }
        guard let peak = try RunDocument.decoder().decode(RunDocument.self, from: data).results.first?.throughput, peak > 0 else {
            throw ValidationError("\(rateFrom) holds no throughput to pace from")
        }
        return peak * rateFraction
    }

    /// Prepares, runs and checks one workload. A set-up failure is a failed result, not a crash.
    func measure(_ workload: Workload, on target: any Target, settings: Settings, load: Load) async -> WorkloadResult {
        var result = WorkloadResult(
            label: label ?? workload.rawValue, workload: workload.rawValue, mode: target.mode, target: target.display,
            connections: workload == .idleConnections ? idleConnections : connections, depth: depth, workers: 0, rate: load.rate,
            requests: 0, errors: 0, errorSamples: [], retries: 0, seconds: 0, throughput: 0, latencyUs: nil,
            latencyMeaning: "", metrics: [:], checks: [], notes: [])
        let prepared: Prepared
        do {
            prepared = try await target.prepare(workload, settings)
        } catch {
            result.checks.append(Check(name: "set-up", ok: false, detail: describe(error)))
            return result
        }
        var runLoad = prepared.load ?? load
        runLoad.progress = load.progress
        var watch = ["client": getpid()]
        if let pid = await target.serverPID(settings) { watch["server"] = pid }
        let m = await Driver.run(prepared.plan, runLoad, label: "\(workload.rawValue) (\(target.mode))", watch: watch)
        let findings = await prepared.finish(m)
        result.workers = prepared.plan.workers
        result.rate = runLoad.rate
        result.requests = m.requests
        result.errors = m.errors
        result.errorSamples = m.errorSamples
        result.retries = m.retries
        result.seconds = m.seconds
        result.throughput = m.seconds > 0 ? Double(m.requests) / m.seconds : 0
        result.latencyUs = LatencySummary(findings.latency ?? m.histogram)
        result.latencyMeaning = findings.latencyMeaning
            ?? (runLoad.rate == nil ? prepared.latencyMeaning : "operation due on the paced schedule → response received")
        result.metrics = findings.metrics
        for (name, cores) in m.cpuCores { result.metrics["\(name)_cpu_cores"] = cores }
        if m.maxInFlight > 0 { result.metrics["max_in_flight_per_connection"] = Double(m.maxInFlight) }
        if runLoad.rate != nil, let lag = LatencySummary(m.sendLag) {
            result.metrics["send_lag_p50_us"] = lag.p50
            result.metrics["send_lag_p99_us"] = lag.p99
            result.notes.append(
                "paced: latency counts from each operation's due time; cairn-bench itself sent late by \(Format.latency(lag.p50)) at p50, \(Format.latency(lag.p99)) at p99")
        }
        result.checks = findings.checks
        result.notes = [workload.summary] + prepared.notes + findings.notes + result.notes
        return result
    }
}

/// The table one run prints.
enum RunTable {
    static func render(_ document: RunDocument, tenant: String) -> String {
        guard let first = document.results.first else { return "no workloads ran" }
        let via = first.mode == "raw" ? "Redis directly (RedisPool) at \(first.target)" : "cairnd at \(first.target)"
        var out = "cairn-bench → \(via), tenant \(tenant)\nmachine: \(document.host.summary) (shared machines are noisy)\n\n"
        let header = [
            "workload", "conns×depth", "requests", "errors", "retries", "req/s", "p50", "p90", "p99", "p99.9", "max", "cpu bench/server",
        ]
        let rows = document.results.map { r -> [String] in
            let l = r.latencyUs
            return [
                r.label, "\(r.connections)×\(r.depth)" + (r.rate.map { " @\(Format.rate($0))/s" } ?? ""), Format.count(r.requests),
                Format.count(r.errors), Format.count(r.retries), Format.rate(r.throughput), Format.latency(l?.p50),
                Format.latency(l?.p90), Format.latency(l?.p99), Format.latency(l?.p999), Format.latency(l?.max), Format.cpu(r),
            ]
        }
        out += Format.table(header, rows, numeric: Set(2...11)) + "\n"
        out += "(cpu: cores used during the measured phase by cairn-bench itself and by the server process, when found)\n"
        for r in document.results {
            var lines: [String] = []
            for c in r.checks { lines.append("\(c.ok ? "ok" : "FAILED") \(c.name): \(c.detail)") }
            if r.errors > 0 { lines.append("FAILED \(r.errors) requests failed: \(r.errorSamples.joined(separator: " | "))") }
            lines.append("latency: \(r.latencyMeaning)")
            lines += r.notes.dropFirst()
            if !r.metrics.isEmpty {
                lines.append(r.metrics.sorted { $0.key < $1.key }.map { "\($0.key)=\(String(format: "%.2f", $0.value))" }.joined(separator: " "))
            }
            out += "\n\(r.label): " + lines.joined(separator: "\n  ")
        }
        return out
    }
}
