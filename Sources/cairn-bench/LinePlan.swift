import CairnClient
import NIOCore
import NIOPosix
import Synchronization

/// A workload run by the line driver: `connections` connections to cairnd, each with `depth`
/// workers on its event loop (worker `w` on connection `w % connections`, as with `Plan`), so
/// `depth` requests are in flight on each connection at once (pipelining).
struct LinePlan<W: LineWorkload>: Runner {
    /// One connection and its workers, usable from any thread.
    struct Connection: Sendable {
        var channel: any Channel
        var workers: NIOLoopBound<LineWorkers<W>>
    }

    let workers: Int
    let connections: [Connection]
    var requestsPerOperation: Int { 1 }
    var maxOperations: Int? { nil }
    var onMeasureStart: @Sendable () -> Void { {} }

    /// Opens the connections (each greeted and authenticated) for `workload`.
    static func open(
        host: String, port: Int, token: String?, tls: ClientTLS? = nil, connectTimeout: Duration = ConnectTimeout.default,
        connections: Int, depth: Int, workload: W,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> LinePlan {
        let opened = Locked<[Int: Connection]>([:])
        do {
            try await forEachConcurrently(connections, width: 16) { c in
                let indices = (0..<depth).map { c + connections * $0 }
                let connection = try await Self.connect(
                    host: host, port: port, token: token, tls: tls, connectTimeout: connectTimeout, workload: workload, indices: indices,
                    group: group)
                opened.withLock { $0[c] = connection }
            }
        } catch {
            for connection in opened.value.values { try? await connection.channel.close() }
            throw error
        }
        let all = opened.value
        return LinePlan(workers: connections * depth, connections: (0..<connections).map { all[$0]! })
    }

    private static func connect(
        host: String, port: Int, token: String?, tls: ClientTLS?, connectTimeout: Duration, workload: W, indices: [Int],
        group: any EventLoopGroup
    ) async throws -> Connection {
        let timeout = TimeAmount(connectTimeout)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try tls?.addHandlers(to: channel, host: host, port: port)
                        try channel.pipeline.syncOperations.addHandler(LineHandler(token: token, allocator: channel.allocator))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            throw BenchFailure("cannot connect to cairnd at \(host):\(port): \(error)")
        }
        let loop = channel.eventLoop
        let ready = loop.flatSubmit { () -> EventLoopFuture<NIOLoopBound<LineWorkers<W>>> in
            do {
                let handler = try channel.pipeline.syncOperations.handler(type: LineHandler.self)
                let workers = LineWorkers(handler: handler, workload: workload, indices: indices, loop: loop)
                handler.receiver = workers
                let bound = NIOLoopBound(workers, eventLoop: loop)
                let greeted = handler.greeted ?? loop.makeFailedFuture(BenchFailure("the connection's handler was not set up"))
                let answered = loop.makePromise(of: NIOLoopBound<LineWorkers<W>>.self)
                let deadline = loop.scheduleTask(in: timeout) {
                    answered.fail(BenchFailure("cairnd at \(host):\(port) did not greet within \(connectTimeout) (--connect-timeout)"))
                }
                greeted.whenComplete { result in
                    deadline.cancel()
                    answered.completeWith(result.map { bound })
                }
                return answered.futureResult
            } catch {
                return loop.makeFailedFuture(error)
            }
        }
        do {
            return Connection(channel: channel, workers: try await ready.get())
        } catch {
            try? await channel.close()
            throw error
        }
    }

    func close() async {
        for connection in connections { try? await connection.channel.close() }
    }

    func phase(_ load: Load, sequence: Counter, limit: Int?, deadline: ContinuousClock.Instant?, label: String?) async
        -> Measurement
    {
        let tally = LineTally(connections: connections.count)
        let started = ContinuousClock.now
        let progress = label.map { label in
            Progress(label: label, started: started) { (tally.requests.load(ordering: .relaxed), tally.errors.load(ordering: .relaxed)) }
        }
        let phase = LinePhase(
            started: started, limit: limit, deadline: deadline, spacing: load.rate.map { Double(workers) / $0 }, workers: workers,
            sequence: sequence, tally: tally)
        for connection in connections {
            let workers = connection.workers
            connection.channel.eventLoop.execute { workers.value.start(phase) }
        }
        var result = await tally.finished()
        result.seconds = (ContinuousClock.now - started).seconds
        await progress?.finish()
        return result
    }
}

/// Gathers the connections' measurements of one phase and says when the last is in.
final class LineTally: Sendable {
    private struct State {
        var measurement = Measurement()
        var remaining: Int
        var waiter: CheckedContinuation<Measurement, Never>?
    }

    private let state: Mutex<State>
    /// Running counts for the progress line.
    let requests = Atomic<Int>(0)
    let errors = Atomic<Int>(0)

    init(connections: Int) {
        state = Mutex(State(remaining: connections))
    }

    func counted(requests: Int = 0, errors: Int = 0) {
        if requests > 0 { self.requests.add(requests, ordering: .relaxed) }
        if errors > 0 { self.errors.add(errors, ordering: .relaxed) }
    }

    /// One connection's workers have all stopped.
    func report(_ part: Measurement) {
        let waiter = state.withLock { s -> CheckedContinuation<Measurement, Never>? in
            s.measurement.merge(part)
            s.remaining -= 1
            guard s.remaining == 0, let waiter = s.waiter else { return nil }
            s.waiter = nil
            return waiter
        }
        waiter?.resume(returning: state.withLock { $0.measurement })
    }

    /// The merged measurement, once every connection reported.
    func finished() async -> Measurement {
        await withCheckedContinuation { continuation in
            let done = state.withLock { s -> Measurement? in
                if s.remaining == 0 { return s.measurement }
                s.waiter = continuation
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }
}

extension Measurement {
    /// Adds another part's numbers (one connection's) to these.
    mutating func merge(_ other: Measurement) {
        histogram.add(other.histogram)
        sendLag.add(other.sendLag)
        requests += other.requests
        errors += other.errors
        retries += other.retries
        maxInFlight = max(maxInFlight, other.maxInFlight)
        for sample in other.errorSamples where errorSamples.count < 5 && !errorSamples.contains(sample) {
            errorSamples.append(sample)
        }
    }
}
