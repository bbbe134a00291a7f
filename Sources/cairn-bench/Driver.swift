import Foundation
import Histogram
import Synchronization

/// How long, how hard and how many: the shape of one workload's run.
struct Load: Sendable {
    /// Operations the measured phase starts at most (count mode).
    var requests: Int?
    /// How long the measured phase starts new operations (duration mode).
    var duration: Duration?
    /// How long the same operations run, unrecorded, before the measured phase.
    var warmup: Duration
    /// Aggregate operations per second to pace to; nil runs flat out (closed loop).
    var rate: Double?
    /// Whether to print a progress line on runs longer than a few seconds.
    var progress: Bool
}

/// What one operation did: how many requests it stood for and how often it had to start over.
struct Done: Sendable {
    var requests = 1
    var retries = 0
}

/// How a workload's operations run, one phase (warm-up or measured) at a time: as tasks
/// (`Plan`) or on the connections' event loops (`LinePlan`).
protocol Runner: Sendable {
    var workers: Int { get }
    /// Requests one operation stands for.
    var requestsPerOperation: Int { get }
    /// Operations the whole run may start at most, warm-up included.
    var maxOperations: Int? { get }
    /// Called once, just before the measured phase starts.
    var onMeasureStart: @Sendable () -> Void { get }
    /// Runs operations, numbered by `sequence`, until `limit` or `deadline`; `label` asks for
    /// a progress line.
    func phase(_ load: Load, sequence: Counter, limit: Int?, deadline: ContinuousClock.Instant?, label: String?) async
        -> Measurement
}

/// The unit of work each worker repeats, as one task per worker. `operation` gets the worker's
/// index and a sequence number unique over the whole run (warm-up included).
struct Plan: Runner {
    var workers: Int
    /// Requests one operation stands for (a pipelined batch of `depth` commands in raw `get`).
    var requestsPerOperation = 1
    /// Operations the whole run may start at most, warm-up included (a block can only grow so far).
    var maxOperations: Int?
    var onMeasureStart: @Sendable () -> Void = {}
    var operation: @Sendable (_ worker: Int, _ sequence: Int) async throws -> Done
}

/// What the measured phase saw.
struct Measurement: Sendable {
    var histogram: Histogram<UInt64>
    /// With a rate: how late each operation actually went out after its due time (nanoseconds).
    /// Latency counts from the due time, so a load generator that falls behind shows here.
    var sendLag: Histogram<UInt64>
    /// Requests that succeeded.
    var requests = 0
    var errors = 0
    var retries = 0
    /// The first few distinct error messages.
    var errorSamples: [String] = []
    /// Wall-clock seconds from the phase's start until its last operation ended.
    var seconds = 0.0
    /// CPU cores each watched process used on average during the phase ("client": cairn-bench).
    var cpuCores: [String: Double] = [:]
    /// The most requests one connection had in flight at once (line driver only; 0 otherwise).
    var maxInFlight = 0

    init() {
        histogram = Measurement.makeHistogram()
        sendLag = Measurement.makeHistogram()
    }

    /// Nanoseconds, 3 significant digits, growing past a minute if it must.
    static func makeHistogram() -> Histogram<UInt64> {
        var h = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        h.autoResize = true
        return h
    }

    mutating func recordError(_ error: any Error) {
        errors += 1
        let text = describe(error)
        if errorSamples.count < 5, !errorSamples.contains(text) { errorSamples.append(text) }
    }
}

/// Runs a plan: a warm-up, then the measured phase, each with `plan.workers` concurrent workers.
enum Driver {
    /// `watch` names processes whose CPU use over the measured phase is reported.
    static func run(_ plan: any Runner, _ load: Load, label: String, watch: [String: Int32] = [:]) async -> Measurement {
        let sequence = Counter()
        let clock = ContinuousClock()
        if load.warmup > .zero {
            _ = await plan.phase(load, sequence: sequence, limit: plan.maxOperations, deadline: clock.now + load.warmup, label: nil)
        }
        plan.onMeasureStart()
        let start = sequence.value
        var limit = load.requests.map { start + ($0 + plan.requestsPerOperation - 1) / plan.requestsPerOperation }
        if let cap = plan.maxOperations { limit = min(limit ?? cap, cap) }
        let deadline = load.duration.map { clock.now + $0 }
        let cpuBefore = await CPUTime.sample(watch)
        var measurement = await plan.phase(load, sequence: sequence, limit: limit, deadline: deadline, label: load.progress ? label : nil)
        let cpuAfter = await CPUTime.sample(watch)
        for (name, after) in cpuAfter {
            if let before = cpuBefore[name], measurement.seconds > 0 {
                measurement.cpuCores[name] = (after - before) / measurement.seconds
            }
        }
        return measurement
    }
}

extension Plan {
    /// Workers take sequence numbers until `limit` or `deadline`; each records its latency.
    /// With a rate, worker `w` schedules its `k`-th operation at a fixed time and latency counts
    /// from that time, not from when it actually went out (so a stall is not hidden).
    func phase(_ load: Load, sequence: Counter, limit: Int?, deadline: ContinuousClock.Instant?, label: String?) async
        -> Measurement
    {
        let plan = self
        let clock = ContinuousClock()
        let tally = Tally()
        let started = clock.now
        let progress = label.map { label in
            Progress(label: label, started: started) { tally.state.withLock { ($0.requests, $0.errors) } }
        }
        let spacing = load.rate.map { Double(plan.workers) / $0 }  // seconds between one worker's operations
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<plan.workers {
                group.addTask {
                    var k = 0
                    while true {
                        if let deadline, clock.now >= deadline { break }
                        var begin = clock.now
                        if let spacing {
                            let offset = spacing * (Double(k) + Double(worker) / Double(plan.workers))
                            let due = started + .nanoseconds(Int64(offset * 1e9))
                            if let deadline, due >= deadline { break }
                            if due > begin { try? await Task.sleep(until: due, tolerance: .microseconds(50), clock: clock) }
                            let lag = UInt64(max(0, (clock.now - due).nanoseconds))
                            tally.state.withLock { _ = $0.sendLag.record(lag) }
                            begin = due
                        }
                        let n = sequence.next()
                        if let limit, n >= limit { break }
                        k += 1
                        do {
                            let done = try await plan.operation(worker, n)
                            let nanoseconds = UInt64(max(0, (clock.now - begin).nanoseconds))
                            tally.state.withLock {
                                $0.histogram.record(nanoseconds, count: UInt64(done.requests))
                                $0.requests += done.requests
                                $0.retries += done.retries
                            }
                        } catch {
                            tally.state.withLock { $0.recordError(error) }
                        }
                    }
                }
            }
        }
        var result = tally.state.withLock { $0 }
        result.seconds = (clock.now - started).seconds
        await progress?.finish()
        return result
    }
}

/// A line on stderr once a run passes 3 seconds: elapsed time, requests, rate, errors. On a
/// terminal it rewrites itself every second; otherwise a new line every 5 seconds.
final class Progress: Sendable {
    private let task: Task<Void, Never>
    private let terminal = isatty(2) != 0

    /// `counts` tells the requests and errors so far.
    init(label: String, started: ContinuousClock.Instant, counts: @escaping @Sendable () -> (requests: Int, errors: Int)) {
        let terminal = self.terminal
        task = Task {
            var printed = 0.0
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                let elapsed = (ContinuousClock.now - started).seconds
                guard elapsed >= 3, terminal || elapsed - printed >= 5 else { continue }
                printed = elapsed
                let (requests, errors) = counts()
                let line = "cairn-bench \(label): \(Format.seconds(elapsed)), \(Format.count(requests)) requests, "
                    + "\(Format.rate(Double(requests) / elapsed))/s, \(errors) errors"
                FileHandle.standardError.write(Data((terminal ? "\r\u{1B}[K" + line : line + "\n").utf8))
            }
        }
    }

    func finish() async {
        task.cancel()
        await task.value
        if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

/// The measured phase's numbers, shared by its workers.
final class Tally: Sendable {
    let state = Mutex(Measurement())
}

/// A shared counter.
final class Counter: Sendable {
    private let atomic = Atomic<Int>(0)

    /// Takes the next number (0, 1, 2, …).
    func next() -> Int { atomic.add(1, ordering: .relaxed).oldValue }
    var value: Int { atomic.load(ordering: .relaxed) }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}

/// Sleeps a random time that grows with `attempt` (full jitter, capped at 20 ms), as the store
/// itself does between attempts of a write.
func backoff(attempt: Int) async {
    let cap = min(20_000_000, 200_000 << min(attempt, 7))
    try? await Task.sleep(nanoseconds: UInt64.random(in: 0...UInt64(cap)))
}

/// A failure the benchmark itself detected (a wrong answer, not a transport error).
struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// An error as one line.
func describe(_ error: any Error) -> String {
    "\(error)".replacingOccurrences(of: "\n", with: " ")
}
