import CairnCore
import DequeModule
import Synchronization
import NIOCore

/// The Redis connections of one event loop: one shared connection that every caller pipelines
/// its single commands onto, and a small pool of connections lent out whole (transactions).
/// Its changing state is confined to `loop` (a `NIOLoopBoundBox`, which checks every access is
/// on it): callers elsewhere hop onto the loop first.
final class RedisLoopConnections: Sendable {
    let loop: any EventLoop
    let configuration: RedisConfiguration
    /// How many lent-out connections this loop may have open at once; more callers wait.
    let maxExclusive: Int

    private enum Shared {
        case none
        case connecting(EventLoopFuture<RedisChannelConnection>)
        case ready(RedisChannelConnection)
    }

    private struct State {
        var shared = Shared.none
        var idle: [RedisChannelConnection] = []
        var exclusiveOpen = 0
        /// Callers waiting for a lent connection, oldest first (at most one per waiting task).
        var waiters = Deque<(id: Int, promise: EventLoopPromise<Lent>)>()
        var stopped = false
    }

    private let state: NIOLoopBoundBox<State>
    /// Numbers the callers that may wait in line, so that a cancelled one can leave it.
    private let nextWaiter = Atomic<Int>(0)

    /// A connection lent out, and whether it had been used before (a stale socket is possible).
    struct Lent: Sendable {
        var connection: RedisChannelConnection
        var reused: Bool
    }

    init(loop: any EventLoop, configuration: RedisConfiguration, maxExclusive: Int) {
        self.loop = loop
        self.configuration = configuration
        self.maxExclusive = max(1, maxExclusive)
        state = NIOLoopBoundBox.makeBoxSendingValue(State(), as: State.self, eventLoop: loop)
    }

    private var shutDownError: RedisError { RedisError(.connection, "the Redis client is shut down") }

    // MARK: - The shared connection

    /// The shared connection, connecting it first when needed.
    func shared() async throws(RedisError) -> RedisChannelConnection {
        let future: EventLoopFuture<RedisChannelConnection>
        if loop.inEventLoop {
            if case .ready(let connection) = state.value.shared, connection.isActive { return connection }
            future = sharedOnLoop()
        } else {
            future = loop.flatSubmit { self.sharedOnLoop() }
        }
        // A cancelled caller stops waiting; the connection, once made, is kept for the others.
        do {
            return try await withCancellableWait(cancelled: { RedisError(.connection, "cancelled while connecting to Redis") }) { deliver in
                future.whenComplete { deliver($0) }
            }
        } catch let error as RedisError {
            throw error
        } catch {
            throw RedisError(.connection, "Redis connection failed: \(error)")
        }
    }

    private func sharedOnLoop() -> EventLoopFuture<RedisChannelConnection> {
        if state.value.stopped { return loop.makeFailedFuture(shutDownError) }
        switch state.value.shared {
        case .ready(let connection) where connection.isActive:
            return loop.makeSucceededFuture(connection)
        case .connecting(let future):
            return future
        case .ready, .none:
            let future = RedisChannelConnection.connect(configuration, on: loop)
            state.value.shared = .connecting(future)
            future.whenComplete { result in
                switch result {
                case .success(let connection):
                    if self.state.value.stopped {
                        connection.close()
                        self.state.value.shared = .none
                    } else {
                        self.state.value.shared = .ready(connection)
                    }
                case .failure:
                    self.state.value.shared = .none
                }
            }
            return future
        }
    }

    // MARK: - Lent connections

    /// A connection for the caller alone, until `release`.
    ///
    /// A caller cancelled while it waits for a connection to come free leaves the line at once
    /// (with `.connection`); one cancelled while its connection is being opened gets it when
    /// the connect ends (bounded by the connect timeout) and should give it back.
    func acquire() async throws(RedisError) -> Lent {
        let waiter = nextWaiter.add(1, ordering: .relaxed).newValue
        let future = loop.inEventLoop ? acquireOnLoop(waiter) : loop.flatSubmit { self.acquireOnLoop(waiter) }
        do {
            return try await withTaskCancellationHandler {
                try await RedisLoopConnections.wait(future)
            } onCancel: {
                loop.execute { self.leaveLine(waiter) }
            }
        } catch let error as RedisError {
            throw error
        } catch {
            throw RedisError(.connection, "Redis connection failed: \(error)")
        }
    }

    /// Fails waiter number `id`, when it is still in line.
    private func leaveLine(_ id: Int) {
        guard let index = state.value.waiters.firstIndex(where: { $0.id == id }) else { return }
        let waiter = state.value.waiters.remove(at: index).promise
        waiter.fail(RedisError(.connection, "cancelled while waiting for a Redis connection"))
    }

    /// Takes the connection back: kept for the next caller when `reusable` and still open.
    func release(_ lent: Lent, reusable: Bool) {
        if loop.inEventLoop {
            releaseOnLoop(lent.connection, reusable: reusable)
        } else {
            loop.execute { self.releaseOnLoop(lent.connection, reusable: reusable) }
        }
    }

    private func acquireOnLoop(_ waiter: Int) -> EventLoopFuture<Lent> {
        if state.value.stopped { return loop.makeFailedFuture(shutDownError) }
        while let connection = state.value.idle.popLast() {
            if connection.isActive { return loop.makeSucceededFuture(Lent(connection: connection, reused: true)) }
            state.value.exclusiveOpen -= 1
        }
        if state.value.exclusiveOpen < maxExclusive { return openExclusive() }
        let promise = loop.makePromise(of: Lent.self)
        state.value.waiters.append((waiter, promise))
        return promise.futureResult
    }

    private func openExclusive() -> EventLoopFuture<Lent> {
        state.value.exclusiveOpen += 1
        return RedisChannelConnection.connect(configuration, on: loop).map { Lent(connection: $0, reused: false) }
            .flatMapErrorThrowing { error in
                self.state.value.exclusiveOpen -= 1
                throw error
            }
    }

    private func releaseOnLoop(_ connection: RedisChannelConnection, reusable: Bool) {
        let stopped = state.value.stopped
        guard !stopped, reusable, connection.isActive else {
            connection.close()
            state.value.exclusiveOpen -= 1
            if !stopped, let waiter = state.value.waiters.popFirst() { openExclusive().cascade(to: waiter.promise) }
            return
        }
        if let waiter = state.value.waiters.popFirst() {
            waiter.promise.succeed(Lent(connection: connection, reused: true))
        } else {
            state.value.idle.append(connection)
        }
    }

    // MARK: - Shutdown

    /// Closes the shared and idle connections; lent ones close when given back.
    func shutdown() async {
        let done = loop.submit {
            self.state.value.stopped = true
            if case .ready(let connection) = self.state.value.shared { connection.close() }
            self.state.value.shared = .none
            let idle = self.state.value.idle
            for connection in idle { connection.close() }
            self.state.value.exclusiveOpen -= idle.count
            self.state.value.idle.removeAll()
            let waiting = self.state.value.waiters
            self.state.value.waiters.removeAll()
            for waiter in waiting { waiter.promise.fail(self.shutDownError) }
        }
        try? await done.valueOnCaller()
    }

    private static func wait<T: Sendable>(_ future: EventLoopFuture<T>) async throws(RedisError) -> T {
        do {
            return try await future.valueOnCaller()
        } catch let error as RedisError {
            throw error
        } catch {
            throw RedisError(.connection, "Redis connection failed: \(error)")
        }
    }
}
