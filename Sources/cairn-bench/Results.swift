import Foundation
import Histogram

/// Latency percentiles in microseconds.
struct LatencySummary: Codable, Sendable {
    var p50: Double
    var p90: Double
    var p99: Double
    var p999: Double
    var max: Double
    var mean: Double
    /// How many values the percentiles are over.
    var count: Int

    /// From a histogram of nanoseconds; nil when it is empty.
    init?(_ h: Histogram<UInt64>) {
        guard h.totalCount > 0 else { return nil }
        func us(_ ns: UInt64) -> Double { Double(ns) / 1000 }
        p50 = us(h.valueAtPercentile(50))
        p90 = us(h.valueAtPercentile(90))
        p99 = us(h.valueAtPercentile(99))
        p999 = us(h.valueAtPercentile(99.9))
        max = us(h.max)
        mean = h.mean / 1000
        count = Int(h.totalCount)
    }
}

/// A correctness check a workload made. A failed one makes cairn-bench exit 1.
struct Check: Codable, Sendable {
    var name: String
    var ok: Bool
    var detail: String
}

/// One workload's run.
struct WorkloadResult: Codable, Sendable {
    /// Names the row in `cairn-bench report`; the workload's name unless `--label` gave one.
    var label: String
    var workload: String
    /// `cairn` (through cairnd) or `raw` (the same Redis commands through RedisPool).
    var mode: String
    /// What was measured: the cairnd URL or the Redis URL (without password).
    var target: String
    var connections: Int
    var depth: Int
    var workers: Int
    /// The paced rate asked for (operations/s), when `--rate` was given.
    var rate: Double?
    /// Requests that succeeded in the measured phase.
    var requests: Int
    var errors: Int
    var errorSamples: [String]
    /// Times an operation had to start over (see the notes for what counts).
    var retries: Int
    var seconds: Double
    /// Successful requests per second of wall-clock time.
    var throughput: Double
    var latencyUs: LatencySummary?
    /// What `latencyUs` measures.
    var latencyMeaning: String
    /// Extra numbers: resident memory, seeding time, second latency distributions…
    var metrics: [String: Double]
    var checks: [Check]
    var notes: [String]

    var ok: Bool { errors == 0 && checks.allSatisfy(\.ok) }
}

/// The machine a run happened on.
struct HostInfo: Codable, Sendable {
    var hostname: String
    var cores: Int
    var cpu: String?
    var memoryMegabytes: Int?
    var kernel: String?

    static func current() -> HostInfo {
        let info = ProcessInfo.processInfo
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let cpu = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }.map { $0.trimmingCharacters(in: .whitespaces) }
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let memKB = meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) }
        let kernel = (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return HostInfo(
            hostname: info.hostName, cores: info.activeProcessorCount, cpu: cpu, memoryMegabytes: memKB.map { $0 / 1024 },
            kernel: kernel)
    }

    var summary: String {
        var parts = ["\(cores) cores"]
        if let cpu { parts.append(cpu) }
        if let memoryMegabytes { parts.append("\(Format.count(memoryMegabytes)) MB memory") }
        if let kernel { parts.append("Linux \(kernel)") }
        return parts.joined(separator: ", ")
    }
}

/// What `cairn-bench --json` prints: every workload run by one invocation.
struct RunDocument: Codable, Sendable {
    var tool = "cairn-bench"
    var startedAt: String
    var host: HostInfo
    var arguments: [String]
    var results: [WorkloadResult]

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return e
    }

    static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}

/// Numbers as people read them.
enum Format {
    /// A latency given in microseconds: "812µs", "1.23ms", "25.1ms", "1.20s".
    static func latency(_ us: Double?) -> String {
        guard let us else { return "—" }
        switch us {
        case ..<1000: return String(format: "%.0fµs", us)
        case ..<10_000: return String(format: "%.2fms", us / 1000)
        case ..<1_000_000: return String(format: "%.1fms", us / 1000)
        default: return String(format: "%.2fs", us / 1_000_000)
        }
    }

    /// 1234567 → "1,234,567".
    static func count(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    static func rate(_ perSecond: Double?) -> String {
        guard let perSecond, perSecond.isFinite else { return "—" }
        return perSecond >= 100 ? count(Int(perSecond.rounded())) : String(format: "%.1f", perSecond)
    }

    /// "0.92/1.03": cores used by cairn-bench and by the server during a run.
    static func cpu(_ r: WorkloadResult) -> String {
        func show(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "?" }
        return "\(show(r.metrics["client_cpu_cores"]))/\(show(r.metrics["server_cpu_cores"]))"
    }

    static func seconds(_ s: Double) -> String { String(format: "%.1fs", s) }

    static func ratio(_ r: Double?) -> String {
        guard let r, r.isFinite else { return "—" }
        return String(format: "%.2f×", r)
    }

    static func megabytes(_ bytes: Double) -> String { String(format: "%.1f MB", bytes / 1_048_576) }

    /// Pads (or keeps) `text` to `width` columns, on the left when `right`.
    static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let n = text.count
        guard n < width else { return text }
        let fill = String(repeating: " ", count: width - n)
        return right ? fill + text : text + fill
    }

    /// Renders rows as aligned columns; `numeric` columns are right-aligned.
    static func table(_ header: [String], _ rows: [[String]], numeric: Set<Int>) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in pad(c, widths[i], right: numeric.contains(i)) }.joined(separator: "  ")
                .replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}
