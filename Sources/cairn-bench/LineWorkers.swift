import NIOCore

/// One phase (warm-up or measured) as every connection's workers run it.
struct LinePhase: Sendable {
    var started: ContinuousClock.Instant
    /// Operations the phase may start, counted by `sequence` (count mode).
    var limit: Int?
    var deadline: ContinuousClock.Instant?
    /// Seconds between one worker's operations when paced.
    var spacing: Double?
    /// Workers over all connections (the pacing offsets are spread over them).
    var workers: Int
    var sequence: Counter
    var tally: LineTally
}

/// The workers of one connection, on its event loop: each has one operation in flight at a
/// time, sends the operation's requests one after another as their answers come, checks them,
/// records the operation's latency and starts the next — the loop `Plan`'s tasks run, with the
/// same pacing, limits and latency definitions, but without a task, a continuation or a thread
/// switch per request.
final class LineWorkers<W: LineWorkload>: LineReceiver {
    private struct Worker {
        /// The worker's number over all connections (put-cas keys are per worker).
        let index: Int
        /// Operations started in this phase (the pacing schedule's position).
        var k = 0
        var sequence = 0
        var step = 0
        var state = 0
        var begin: ContinuousClock.Instant
    }

    private let handler: LineHandler
    private let workload: W
    private let loop: any EventLoop
    private var workers: [Worker]
    private var phase: LinePhase?
    private var measurement = Measurement()
    private var running = 0
    private let clock = ContinuousClock()

    init(handler: LineHandler, workload: W, indices: [Int], loop: any EventLoop) {
        self.handler = handler
        self.workload = workload
        self.loop = loop
        let now = ContinuousClock.now
        workers = indices.map { Worker(index: $0, begin: now) }
    }

    func start(_ phase: LinePhase) {
        self.phase = phase
        measurement = Measurement()
        handler.maxInFlight = 0
        running = workers.count
        let now = clock.now
        for j in workers.indices {
            workers[j].k = 0
            next(j, now: now)
        }
    }

    /// Starts worker `j`'s next operation, now or at its due time, unless the phase is over.
    private func next(_ j: Int, now: ContinuousClock.Instant) {
        guard let phase else { return }
        if let deadline = phase.deadline, now >= deadline { return stop(j) }
        guard let spacing = phase.spacing else { return launch(j, begin: now) }
        let offset = spacing * (Double(workers[j].k) + Double(workers[j].index) / Double(phase.workers))
        let due = phase.started + .nanoseconds(Int64(offset * 1e9))
        if let deadline = phase.deadline, due >= deadline { return stop(j) }
        if due > now {
            loop.assumeIsolated().scheduleTask(in: .nanoseconds((due - now).nanoseconds)) { self.reached(j, due: due) }
        } else {
            reached(j, due: due)
        }
    }

    /// A paced operation's due time came: how late it goes out is the send lag.
    private func reached(_ j: Int, due: ContinuousClock.Instant) {
        measurement.sendLag.record(UInt64(max(0, (clock.now - due).nanoseconds)))
        launch(j, begin: due)
    }

    private func launch(_ j: Int, begin: ContinuousClock.Instant) {
        guard let phase else { return }
        let n = phase.sequence.next()
        if let limit = phase.limit, n >= limit { return stop(j) }
        workers[j].k += 1
        workers[j].sequence = n
        workers[j].step = 0
        workers[j].state = 0
        workers[j].begin = begin
        send(j)
    }

    private func send(_ j: Int) {
        let w = workers[j]
        let workload = workload
        let sent = handler.send(j) { buffer in
            workload.request(step: w.step, worker: w.index, sequence: w.sequence, state: w.state, into: &buffer)
        }
        if !sent { lost(j, handler.broken ?? "the connection to cairnd is closed") }
    }

    func answered(_ j: Int, _ answer: ResponseScan, _ line: UnsafeRawBufferPointer) {
        let w = workers[j]
        let outcome: LineStep
        switch answer.kind {
        case .result:
            outcome = workload.check(step: w.step, worker: w.index, sequence: w.sequence, state: w.state, answer: answer)
        case .error:
            outcome = .failed(LineHandler.describeError(line))
        case .notification, .other:
            outcome = .failed("cairnd answered neither a result nor an error: \(LineHandler.excerpt(line))")
        }
        switch outcome {
        case .next(let state):
            workers[j].step += 1
            workers[j].state = state
            send(j)
        case .done:
            let now = clock.now
            measurement.histogram.record(UInt64(max(0, (now - w.begin).nanoseconds)))
            measurement.requests += 1
            phase?.tally.counted(requests: 1)
            next(j, now: now)
        case .failed(let message):
            measurement.recordError(BenchFailure(message))
            phase?.tally.counted(errors: 1)
            next(j, now: clock.now)
        }
    }

    /// The connection is gone: the worker's operation failed and it stops.
    func lost(_ j: Int, _ reason: String) {
        measurement.recordError(BenchFailure(reason))
        phase?.tally.counted(errors: 1)
        stop(j)
    }

    private func stop(_ j: Int) {
        guard phase != nil else { return }
        running -= 1
        if running == 0, let phase {
            self.phase = nil
            measurement.maxInFlight = handler.maxInFlight
            phase.tally.report(measurement)
        }
    }
}
