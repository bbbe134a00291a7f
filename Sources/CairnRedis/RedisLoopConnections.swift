import DequeModule
import NIOCore

/// The Redis connections of one event loop: one shared connection that every caller pipelines
/// its single commands onto, and a small pool of connections lent out whole (transactions).
/// Every stored property is read and changed on `loop` only.
final class RedisLoopConnections: @unchecked Sendable {
    let loop: any EventLoop
    let configuration: RedisConfiguration
    /// How many lent-out connections this loop may have open at once; more callers wait.
    let maxExclusive: Int

    private enum Shared {
        case none
        case connecting(EventLoopFuture<RedisChannelConnection>)
        case ready(RedisChannelConnection)
    }

    private var shared = Shared.none
    private var idle: [RedisChannelConnection] = []
    private var exclusiveOpen = 0
    private var waiters = Deque<EventLoopPromise<Lent>>()
    private var stopped = false

    /// A connection lent out, and whether it had been used before (a stale socket is possible).
    struct Lent: Sendable {
        var connection: RedisChannelConnection
        var reused: Bool
    }

    init(loop: any EventLoop, configuration: RedisConfiguration, maxExclusive: Int) {
        self.loop = loop
        self.configuration = configuration
        self.maxExclusive = max(1, maxExclusive)
    }

    private var shutDownError: RedisError { RedisError(.connection, "the Redis client is shut down") }

    // MARK: - The shared connection

    /// The shared connection, connecting it first when needed.
    func shared() async throws(RedisError) -> RedisChannelConnection {
        let future: EventLoopFuture<RedisChannelConnection>
        if loop.inEventLoop {
            if case .ready(let connection) = shared, connection.isActive { return connection }
            future = sharedOnLoop()
        } else {
            future = loop.flatSubmit { self.sharedOnLoop() }
        }
        return try await RedisLoopConnections.wait(future)
    }

    private func sharedOnLoop() -> EventLoopFuture<RedisChannelConnection> {
        if stopped { return loop.makeFailedFuture(shutDownError) }
        switch shared {
        case .ready(let connection) where connection.isActive:
            return loop.makeSucceededFuture(connection)
        case .connecting(let future):
            return future
        case .ready, .none:
            let future = RedisChannelConnection.connect(configuration, on: loop)
            shared = .connecting(future)
            future.whenComplete { result in
                switch result {
                case .success(let connection):
                    if self.stopped {
                        connection.close()
                        self.shared = .none
                    } else {
                        self.shared = .ready(connection)
                    }
                case .failure:
                    self.shared = .none
                }
            }
            return future
        }
    }

    // MARK: - Lent connections

    /// A connection for the caller alone, until `release`.
    func acquire() async throws(RedisError) -> Lent {
        let future = loop.inEventLoop ? acquireOnLoop() : loop.flatSubmit { self.acquireOnLoop() }
        return try await RedisLoopConnections.wait(future)
    }

    /// Takes the connection back: kept for the next caller when `reusable` and still open.
    func release(_ lent: Lent, reusable: Bool) {
        if loop.inEventLoop {
            releaseOnLoop(lent.connection, reusable: reusable)
        } else {
            loop.execute { self.releaseOnLoop(lent.connection, reusable: reusable) }
        }
    }

    private func acquireOnLoop() -> EventLoopFuture<Lent> {
        if stopped { return loop.makeFailedFuture(shutDownError) }
        while let connection = idle.popLast() {
            if connection.isActive { return loop.makeSucceededFuture(Lent(connection: connection, reused: true)) }
            exclusiveOpen -= 1
        }
        if exclusiveOpen < maxExclusive { return openExclusive() }
        let promise = loop.makePromise(of: Lent.self)
        waiters.append(promise)
        return promise.futureResult
    }

    private func openExclusive() -> EventLoopFuture<Lent> {
        exclusiveOpen += 1
        return RedisChannelConnection.connect(configuration, on: loop).map { Lent(connection: $0, reused: false) }
            .flatMapErrorThrowing { error in
                self.exclusiveOpen -= 1
                throw error
            }
    }

    private func releaseOnLoop(_ connection: RedisChannelConnection, reusable: Bool) {
        guard !stopped, reusable, connection.isActive else {
            connection.close()
            exclusiveOpen -= 1
            if !stopped, let waiter = waiters.popFirst() { openExclusive().cascade(to: waiter) }
            return
        }
        if let waiter = waiters.popFirst() {
            waiter.succeed(Lent(connection: connection, reused: true))
        } else {
            idle.append(connection)
        }
    }

    // MARK: - Shutdown

    /// Closes the shared and idle connections; lent ones close when given back.
    func shutdown() async {
        let done = loop.submit {
            self.stopped = true
            if case .ready(let connection) = self.shared { connection.close() }
            self.shared = .none
            for connection in self.idle { connection.close() }
            self.exclusiveOpen -= self.idle.count
            self.idle.removeAll()
            let waiting = self.waiters
            self.waiters.removeAll()
            for waiter in waiting { waiter.fail(self.shutDownError) }
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
