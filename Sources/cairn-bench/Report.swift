import ArgumentParser
import CairnCore
import Foundation

/// `cairn-bench report`: one table of raw Redis against cairnd, from the JSON of earlier runs
/// and redis-benchmark's CSV.
struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare runs: raw Redis (redis-benchmark, cairn-bench --raw) against cairnd, per workload.",
        discussion: """
            Rows are matched by label (the workload's name, or --label of the run). The ratio is \
            cairnd's throughput over raw Redis's: over redis-benchmark's where there is one, and over \
            cairn-bench --raw's. Exit status 1 when any run failed a check or had failed requests.
            """)

    @Argument(help: "JSON files written by cairn-bench --json/--output.")
    var files: [String]

    @Option(help: "LABEL=FILE: redis-benchmark --csv output for the row LABEL (repeatable).")
    var redisBenchmark: [String] = []

    @Option(help: "KEY=VALUE to record with the results, e.g. versions (repeatable).")
    var info: [String] = []

    @Option(help: "Write the combined results as JSON to this file.")
    var output: String?

    func run() async throws {
        var runs: [RunDocument] = []
        for file in files {
            let data = try await offloadedIO { try Data(contentsOf: URL(fileURLWithPath: file)) }
            do {
                runs.append(try RunDocument.decoder().decode(RunDocument.self, from: data))
            } catch {
                throw ValidationError("\(file) is not cairn-bench JSON: \(error)")
            }
        }
        var anchors: [String: Anchor] = [:]
        var order: [String] = []
        for entry in redisBenchmark {
            guard let eq = entry.firstIndex(of: "=") else { throw ValidationError("--redis-benchmark wants LABEL=FILE, not \(entry)") }
            let label = String(entry[..<eq])
            let path = String(entry[entry.index(after: eq)...])
            let text = try await offloadedIO { try String(contentsOfFile: path, encoding: .utf8) }
            guard let anchor = Anchor(csv: text) else { throw ValidationError("\(path) is not redis-benchmark --csv output") }
            anchors[label] = anchor
            if !order.contains(label) { order.append(label) }
        }
        var extra: [String: String] = [:]
        var infoOrder: [String] = []
        for entry in info {
            guard let eq = entry.firstIndex(of: "=") else { throw ValidationError("--info wants KEY=VALUE, not \(entry)") }
            extra[String(entry[..<eq])] = String(entry[entry.index(after: eq)...])
            infoOrder.append(String(entry[..<eq]))
        }
        let results = runs.flatMap(\.results)
        for r in results where !order.contains(r.label) { order.append(r.label) }
        // Rows in the order of the workloads (a label's family by its workload), then as they came.
        func rank(_ label: String) -> Int {
            let workload = results.first { $0.label == label }?.workload ?? label
            return Workload.allCases.firstIndex { $0.rawValue == workload } ?? Workload.allCases.count
        }
        order = order.enumerated().sorted { (rank($0.element), $0.offset) < (rank($1.element), $1.offset) }.map(\.element)
        let rows = order.map { label in
            Row(
                label: label, anchor: anchors[label], raw: results.last { $0.label == label && $0.mode == "raw" },
                cairn: results.last { $0.label == label && $0.mode == "cairn" })
        }
        let host: HostInfo
        if let first = runs.first?.host { host = first } else { host = await offloaded { HostInfo.current() } }
        let targets = Targets.evaluate(rows)
        print(render(rows: rows, targets: targets, results: results, host: host, info: infoOrder.map { ($0, extra[$0]!) }))

        if let output {
            let combined = Combined(
                generatedAt: Timestamp(millisecondsSince1970: Int64(Date().timeIntervalSince1970 * 1000)).rfc3339, host: host,
                info: extra, rows: rows.map(\.summary), targets: targets, runs: runs)
            let encoded = try RunDocument.encoder().encode(combined)
            try await offloadedIO { try encoded.write(to: URL(fileURLWithPath: output)) }
        }
        if !results.allSatisfy(\.ok) { throw ExitCode(1) }
    }

    func render(rows: [Row], targets: [TargetResult], results: [WorkloadResult], host: HostInfo, info: [(String, String)]) -> String {
        var out = "machine: \(host.summary)\n"
        for (k, v) in info { out += "\(k): \(v)\n" }
        out += "(one run on a shared machine: expect noise of ±20% or more between runs)\n\n"
        let header = [
            "workload", "load", "redis-benchmark", "p99", "raw (RedisPool)", "p99", "cairnd", "p99", "cairnd÷rb", "cairnd÷raw",
        ]
        let table = rows.map { row -> [String] in
            let s = row.summary
            return [
                row.label, s.load, Format.rate(s.redisBenchmarkRps), Format.latency(s.redisBenchmarkP99Us), Format.rate(s.rawRps),
                Format.latency(s.rawP99Us), Format.rate(s.cairnRps), Format.latency(s.cairnP99Us),
                Format.ratio(s.ratioVsRedisBenchmark), Format.ratio(s.ratioVsRaw),
            ]
        }
        out += "throughput in operations/s, p99 latency; ratio = cairnd throughput ÷ raw throughput\n"
        out += Format.table(header, table, numeric: Set(2...9)) + "\n"

        out += "\ntargets (docs/DESIGN.md; informational, a noisy machine can miss them):\n"
        for t in targets { out += "  \(t.met.map { $0 ? "met    " : "NOT met" } ?? "—      ")  \(t.target): \(t.measured)\n" }

        out += "\nchecks:\n"
        var failures = 0
        for r in results {
            for c in r.checks where !c.ok {
                failures += 1
                out += "  FAILED \(r.label) (\(r.mode)): \(c.name): \(c.detail)\n"
            }
            if r.errors > 0 {
                failures += 1
                out += "  FAILED \(r.label) (\(r.mode)): \(r.errors) requests failed: \(r.errorSamples.joined(separator: " | "))\n"
            }
        }
        let passed = results.reduce(0) { $0 + $1.checks.filter(\.ok).count }
        if failures == 0 { out += "  all \(passed) checks passed, no failed requests\n" }
        for r in results {
            for c in r.checks where c.ok { out += "  ok \(r.label) (\(r.mode)): \(c.detail)\n" }
        }

        out += "\nmeaning of the rows:\n"
        for row in rows {
            guard let r = row.cairn ?? row.raw else { continue }
            out += "  \(row.label): \(r.notes.first ?? r.workload); latency = \(r.latencyMeaning)\n"
            if let raw = row.raw, let how = raw.notes.dropFirst().first { out += "    raw: \(how)\n" }
            for r in [row.raw, row.cairn].compactMap({ $0 }) {
                let server = r.mode == "raw" ? "redis-server" : "cairnd"
                out += "    \(r.mode == "raw" ? "raw" : "cairnd"): cpu cores used by cairn-bench/\(server): \(Format.cpu(r))\n"
                for note in r.notes where note.contains(" resident memory: ") || note.hasPrefix("paced:") {
                    out += "    \(note)\n"
                }
            }
        }
        return out
    }
}

/// One redis-benchmark --csv result.
struct Anchor: Codable, Sendable {
    var test: String
    var rps: Double
    var p50Us: Double?
    var p99Us: Double?

    init?(csv: String) {
        let lines = csv.split(whereSeparator: \.isNewline).map { line in
            line.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")) }
        }
        guard lines.count >= 2, let rpsIndex = lines[0].firstIndex(of: "rps") else { return nil }
        let row = lines[1]
        func value(_ column: String) -> Double? {
            lines[0].firstIndex(of: column).flatMap { $0 < row.count ? Double(row[$0]) : nil }
        }
        guard rpsIndex < row.count, let rps = Double(row[rpsIndex]) else { return nil }
        test = row.first ?? ""
        self.rps = rps
        p50Us = value("p50_latency_ms").map { $0 * 1000 }
        p99Us = value("p99_latency_ms").map { $0 * 1000 }
    }
}

/// One row of the comparison.
struct Row {
    var label: String
    var anchor: Anchor?
    var raw: WorkloadResult?
    var cairn: WorkloadResult?

    struct Summary: Codable, Sendable {
        var label: String
        var load: String
        var redisBenchmarkRps: Double?
        var redisBenchmarkP99Us: Double?
        var rawRps: Double?
        var rawP99Us: Double?
        var cairnRps: Double?
        var cairnP99Us: Double?
        var ratioVsRedisBenchmark: Double?
        var ratioVsRaw: Double?
    }

    var summary: Summary {
        let shown = cairn ?? raw
        let load = shown.map { r in "\(r.connections)×\(r.depth)" + (r.rate.map { " @\(Format.rate($0))/s" } ?? "") } ?? "—"
        func ratio(_ a: Double?, _ b: Double?) -> Double? {
            guard let a, let b, b > 0 else { return nil }
            return a / b
        }
        return Summary(
            label: label, load: load, redisBenchmarkRps: anchor?.rps, redisBenchmarkP99Us: anchor?.p99Us,
            rawRps: raw?.throughput, rawP99Us: raw?.latencyUs?.p99, cairnRps: cairn?.throughput,
            cairnP99Us: cairn?.latencyUs?.p99, ratioVsRedisBenchmark: ratio(cairn?.throughput, anchor?.rps),
            ratioVsRaw: ratio(cairn?.throughput, raw?.throughput))
    }
}

/// A performance target of DESIGN.md and what this run measured for it.
struct TargetResult: Codable, Sendable {
    var target: String
    var measured: String
    /// nil when the run did not measure it.
    var met: Bool?
}

enum Targets {
    static func evaluate(_ rows: [Row]) -> [TargetResult] {
        func row(_ label: String) -> Row? { rows.first { $0.label == label } }
        var out: [TargetResult] = []

        let get = row("get")?.summary
        out.append(
            TargetResult(
                target: "get through cairnd ≥ 0.6× redis-benchmark HGETALL, same connections",
                measured: get?.ratioVsRedisBenchmark.map { "\(Format.ratio($0)) (\(Format.rate(get?.cairnRps)) vs \(Format.rate(get?.redisBenchmarkRps)) ops/s)" }
                    ?? "not measured",
                met: get?.ratioVsRedisBenchmark.map { $0 >= 0.6 }))

        let cas = row("put-cas")?.summary
        out.append(
            TargetResult(
                target: "put with if_version ≥ 0.8× the raw WATCH/read/MULTI/write/XADD/EXEC client",
                measured: cas?.ratioVsRaw.map { "\(Format.ratio($0)) (\(Format.rate(cas?.cairnRps)) vs \(Format.rate(cas?.rawRps)) ops/s)" }
                    ?? "not measured", met: cas?.ratioVsRaw.map { $0 >= 0.8 }))

        let half = row("get@half")?.cairn
        out.append(
            TargetResult(
                target: "get p99 < 1 ms at half of peak load",
                measured: half.map { "p99 \(Format.latency($0.latencyUs?.p99)) at \(Format.rate($0.rate))/s" } ?? "not measured",
                met: half?.latencyUs.map { $0.p99 < 1000 }))

        let contention = row("cas-contention")?.cairn
        out.append(
            TargetResult(
                target: "\(contention?.workers ?? 32) writers incrementing one key end with exactly the right count",
                measured: contention.map { r in
                    "\(r.checks.first?.detail ?? "no check"); \(Format.rate(r.throughput)) increments/s, "
                        + String(format: "%.2f", r.metrics["retries_per_increment"] ?? 0) + " retries per increment"
                } ?? "not measured", met: contention.map { $0.checks.allSatisfy(\.ok) && $0.requests > 0 }))

        let search = row("search")?.cairn
        out.append(
            TargetResult(
                target: "search over 10,000 items: p50 < 25 ms",
                measured: search.map { "p50 \(Format.latency($0.latencyUs?.p50)) over \(Format.count(Int($0.metrics["scope_items"] ?? 0))) items" }
                    ?? "not measured",
                met: search.flatMap { r in r.latencyUs.map { $0.p50 < 25_000 && (r.metrics["scope_items"] ?? 0) >= 10_000 } }))

        let idle = row("idle-connections")?.cairn
        let rss = idle?.metrics["rss_after_mb"]
        out.append(
            TargetResult(
                target: "cairnd resident memory < 100 MB with 1,000 idle connections",
                measured: idle.map { r in
                    rss.map { String(format: "%.1f MB with %d connections", $0, Int(r.metrics["connections_open"] ?? 0)) }
                        ?? "memory unknown"
                } ?? "not measured",
                met: rss.map { $0 < 100 && (idle?.metrics["connections_open"] ?? 0) >= 1000 }))

        let events = row("event-latency")?.cairn
        out.append(
            TargetResult(
                target: "a write's event reaches a subscriber within 5 ms at p99",
                measured: events.map { "p99 \(Format.latency($0.latencyUs?.p99)) (ack → event)" } ?? "not measured",
                met: events?.latencyUs.map { $0.p99 < 5000 }))
        return out
    }
}

/// What `report --output` writes.
struct Combined: Codable, Sendable {
    var tool = "cairn-bench report"
    var generatedAt: String
    var host: HostInfo
    var info: [String: String]
    var rows: [Row.Summary]
    var targets: [TargetResult]
    var runs: [RunDocument]
}
