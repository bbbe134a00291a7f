import CairnCore
import Foundation
import Histogram
import Synchronization

/// The values the workloads write: small JSON objects (about 200 bytes) that `search` can
/// filter (`status`, `score`) and query (words in `body`).
enum Sample {
    static let words = [
        "redis", "agent", "memory", "shared", "block", "version", "stream", "event",
        "tenant", "scope", "search", "audit", "latency", "swift", "cursor", "token",
    ]
    static let statuses = ["open", "closed", "draft"]

    /// `--value-bytes` of padding, set once at start-up before any workload runs.
    nonisolated(unsafe) static var padding = ""

    static func value(_ i: Int) -> JSONValue {
        let body = [words[(i / 3) % 16], words[(i * 7) % 16], words[(i / 16) % 16], "note", String(i)].joined(separator: " ")
        var value: JSONValue = [
            "title": .string("benchmark item \(i)"), "status": .string(statuses[i % 3]), "score": .int(i % 100),
            "owner": .string("agent-\(i % 7)"), "tags": ["bench", .string(words[i % 16])], "body": .string(body),
        ]
        if !padding.isEmpty, case .object(var o) = value {
            o["pad"] = .string(padding)
            value = .object(o)
        }
        return value
    }

    /// The filter `search` uses: about one item in six passes it.
    static let filter: JSONValue = ["status": "open", "score": ["$gte": 50]]
}

/// Runs `body(i)` for every `i` in `0..<count`, `width` at a time.
func forEachConcurrently(
    _ count: Int, width: Int, _ body: @escaping @Sendable (Int) async throws -> Void
) async throws {
    let next = Counter()
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<max(1, min(width, count)) {
            group.addTask {
                while true {
                    let i = next.next()
                    if i >= count { return }
                    try await body(i)
                }
            }
        }
        try await group.waitForAll()
    }
}

/// Runs a blocking `body` (file reads, sleeps) on a GCD thread, never on the cooperative pool.
func offloaded<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: body()) }
    }
}

/// Runs a blocking, throwing `body` (file reads and writes) on a GCD thread.
func offloadedIO<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}

/// A value behind a lock, shared by tasks.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
    var value: Value { mutex.withLock { $0 } }
}

/// Matches each write's acknowledgement with its event, whichever comes first, and records the
/// time between them (ack → event; an event that beat its ack counts as 0 and is counted).
final class Rendezvous: Sendable {
    struct State {
        var acks: [String: (at: ContinuousClock.Instant, record: Bool)] = [:]
        var events: [String: ContinuousClock.Instant] = [:]
        var ackCounts: [String: Int] = [:]
        var eventCounts: [String: Int] = [:]
        var histogram = Measurement.makeHistogram()
        var recording = false
        var matched = 0
        var early = 0
        var resyncs = 0
    }

    let state = Mutex(State())

    func startRecording() { state.withLock { $0.recording = true } }

    func ack(_ id: String, at instant: ContinuousClock.Instant) {
        state.withLock { s in
            if let event = s.events.removeValue(forKey: id) {
                s.matched += 1
                if s.recording {
                    s.early += 1
                    s.histogram.record(UInt64(max(0, (event - instant).nanoseconds)))
                }
            } else {
                s.acks[id] = (instant, s.recording)
            }
        }
    }

    func event(_ id: String, at instant: ContinuousClock.Instant) {
        state.withLock { s in
            if let ack = s.acks.removeValue(forKey: id) {
                s.matched += 1
                if ack.record { s.histogram.record(UInt64(max(0, (instant - ack.at).nanoseconds))) }
            } else {
                s.events[id] = instant
            }
        }
    }

    /// The `n`-th ack on `stream` (raw mode: keyspace notifications carry no version).
    func ackNext(on stream: String, at instant: ContinuousClock.Instant) {
        let n = state.withLock { s in
            s.ackCounts[stream, default: 0] += 1
            return s.ackCounts[stream]!
        }
        ack("\(stream)#\(n)", at: instant)
    }

    func eventNext(on stream: String, at instant: ContinuousClock.Instant) {
        let n = state.withLock { s in
            s.eventCounts[stream, default: 0] += 1
            return s.eventCounts[stream]!
        }
        event("\(stream)#\(n)", at: instant)
    }

    func resync() { state.withLock { $0.resyncs += 1 } }

    /// Acknowledged writes still waiting for their event.
    var waiting: Int { state.withLock { $0.acks.count } }

    /// Waits up to `seconds` for every acknowledged write's event.
    func settle(seconds: Double) async {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while waiting > 0, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
    }

    /// The checks and numbers of an event-latency run.
    func findings(writes: Measurement) -> Findings {
        let s = state.withLock { $0 }
        var f = Findings()
        f.latency = s.histogram
        f.latencyMeaning = "write acknowledged → its event received by the subscriber"
        f.checks.append(
            Check(
                name: "every acknowledged write's event arrived", ok: s.acks.isEmpty,
                detail: s.acks.isEmpty
                    ? "\(Format.count(s.matched)) events matched their writes"
                    : "\(s.acks.count) acknowledged writes never produced an event within 5 s"))
        if s.resyncs > 0 {
            f.checks.append(Check(name: "no resync", ok: false, detail: "the subscriber got \(s.resyncs) resync notifications"))
        }
        f.metrics["events_before_ack"] = Double(s.early)
        f.metrics["events_without_ack"] = Double(s.events.count)
        if let w = LatencySummary(writes.histogram) {
            f.metrics["write_p50_us"] = w.p50
            f.metrics["write_p99_us"] = w.p99
        }
        if s.early > 0 {
            f.notes.append("\(s.early) events reached the subscriber before the writer had its acknowledgement; they count as 0")
        }
        return f
    }
}

/// What a workload found after its run: checks, extra numbers, notes, and for event-latency a
/// latency distribution of its own.
struct Findings: Sendable {
    var checks: [Check] = []
    var metrics: [String: Double] = [:]
    var notes: [String] = []
    var latency: Histogram<UInt64>?
    var latencyMeaning: String?
}

/// A workload ready to run: its plan, and what to do after.
struct Prepared: Sendable {
    var plan: any Runner
    var notes: [String] = []
    var latencyMeaning = "request sent → response received"
    /// Overrides the run's `Load` (idle-connections opens a fixed number of connections).
    var load: Load?
    var finish: @Sendable (Measurement) async -> Findings = { _ in Findings() }
}

/// The check of a block-insert-contention run: every acknowledged line is in the block once.
func checkLines(in text: String, acknowledged: Set<String>, errors: Int) -> Check {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    let present = Set(lines)
    let missing = acknowledged.subtracting(present)
    let duplicates = lines.count - present.count
    let unacknowledged = present.subtracting(acknowledged).count
    var detail = "\(Format.count(lines.count)) lines in the block, \(Format.count(acknowledged.count)) inserts acknowledged"
    if !missing.isEmpty {
        detail += "; \(missing.count) acknowledged lines are MISSING (e.g. \(missing.sorted().prefix(3).joined(separator: ", ")))"
    }
    if duplicates > 0 { detail += "; \(duplicates) lines appear more than once" }
    if unacknowledged > 0 { detail += "; \(unacknowledged) lines whose insert reported an error landed anyway" }
    if errors > 0 && unacknowledged == 0 && missing.isEmpty { detail += "; \(errors) inserts failed and did not land" }
    return Check(name: "every acknowledged line landed exactly once", ok: missing.isEmpty && duplicates == 0, detail: detail)
}

/// The check of a cas-contention run: the counter equals the acknowledged increments.
func checkCount(final: Int?, version: Int?, acknowledged: Int, initialVersion: Int, errors: Int) -> [Check] {
    guard let final, let version else {
        return [Check(name: "final count", ok: false, detail: "the counter could not be read back")]
    }
    var detail = "counter is \(Format.count(final)), \(Format.count(acknowledged)) increments were acknowledged"
    if final != acknowledged {
        detail += final < acknowledged ? " — \(acknowledged - final) UPDATES LOST" : " — \(final - acknowledged) more than acknowledged"
        if errors > 0 { detail += " (\(errors) requests failed; their outcome is unknown)" }
    }
    let expectedVersion = initialVersion + acknowledged
    return [
        Check(name: "final count", ok: final == acknowledged, detail: detail),
        Check(
            name: "one version per increment", ok: version == expectedVersion || errors > 0,
            detail: "version \(version), expected \(expectedVersion)"),
    ]
}

/// Resident memory of other processes, from /proc (Linux).
enum ProcessMemory {
    /// VmRSS of `pid` in bytes.
    static func residentBytes(pid: Int32) -> Double? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kb = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap({ Double($0) })
        else { return nil }
        return kb * 1024
    }

    /// The process that listens on TCP `port`: the socket's inode from /proc/net/tcp{,6}, then
    /// the process holding a descriptor on it. nil when not found (another user's process).
    static func pid(listeningOn port: Int) -> Int32? {
        let hexPort = String(format: ":%04X", port)
        var inodes = Set<String>()
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let f = line.split(separator: " ", omittingEmptySubsequences: true)
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                if f.count > 9, f[1].hasSuffix(hexPort), f[3] == "0A" { inodes.insert("socket:[\(f[9])]") }
            }
        }
        guard !inodes.isEmpty, let pids = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        for pid in pids where pid.allSatisfy(\.isNumber) {
            guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { continue }
            for fd in fds {
                if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                    inodes.contains(target)
                {
                    return Int32(pid)
                }
            }
        }
        return nil
    }
}

/// CPU time of processes, from /proc (Linux).
enum CPUTime {
    /// User + system CPU seconds `pid` has used so far.
    static func seconds(pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm)": state is field 3, utime field 14, stime field 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// CPU seconds of each named process, read off the cooperative pool.
    static func sample(_ processes: [String: Int32]) async -> [String: Double] {
        await offloaded { processes.compactMapValues { seconds(pid: $0) } }
    }
}

/// Raises the soft limit of open files to the hard limit (idle-connections opens many).
func raiseOpenFileLimit() {
    #if os(Linux)
    let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    let resource = RLIMIT_NOFILE
    #endif
    var limit = rlimit()
    guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(resource, &limit)
}
