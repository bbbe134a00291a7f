import NIOCore
import NIOPosix
import Synchronization

/// Cairn's way to Redis: commands over SwiftNIO on the caller's event loop (`multiplexed`), and a
/// pool of blocking hiredis connections for bodies that run many commands at once.
///
/// `withConnection` runs its body on one of `poolSize` threads of a `NIOThreadPool`, with a
/// connection of its own for the whole body, so a body may `WATCH`, read, decide and
/// `MULTI`/`EXEC` without another request's commands in between. The caller's task suspends
/// meanwhile; no blocking call ever runs on a NIO event loop or Swift's cooperative pool.
///
/// A connection that broke (I/O error, timeout, Redis restarted) is replaced on its next use.
/// When the very first command of a body fails on a connection that was connected before (a
/// stale socket left by a Redis restart), the body runs once more on a fresh connection: bodies
/// must therefore begin with commands that change nothing (`WATCH`, reads), which every caller
/// in Cairn does. Any other connection failure reaches the caller as `RedisError(.connection)`.
public final class RedisPool: Sendable {
    public let configuration: RedisConfiguration
    private let threads: NIOThreadPool
    private let idle: Mutex<[RedisConnection]>
    private let state: Mutex<Bool>  // running
    /// Single commands and optimistic transactions, over SwiftNIO on the caller's event loop.
    public let multiplexed: RedisAsyncClient

    /// `group`: the event loops whose callers get connections of their own (cairnd's).
    public init(configuration: RedisConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        multiplexed = RedisAsyncClient(configuration: configuration, group: group, exclusivePerLoop: configuration.poolSize)
        threads = NIOThreadPool(numberOfThreads: max(1, configuration.poolSize))
        threads.start()
        idle = Mutex([])
        state = Mutex(true)
    }

    /// Runs `body` with a connection of its own, on a pool thread.
    public func withConnection<T: Sendable>(
        _ body: @escaping @Sendable (RedisConnection) throws -> T
    ) async throws -> T {
        guard state.withLock({ $0 }) else { throw RedisError(.connection, "the Redis pool is shut down") }
        do {
            return try await threads.runIfActive { [self] in
                let connection = checkout()
                defer { checkin(connection) }
                return try connection.retryingStaleSocket(body)
            }
        } catch let error as RedisError {
            throw error
        } catch is NIOThreadPoolError.ThreadPoolInactive {
            throw RedisError(.connection, "the Redis pool is shut down")
        }
    }

    /// One command, pipelined with other tasks' commands on the caller's event loop (see
    /// `RedisAsyncClient.send`): only for commands that are safe to send twice (reads, `PING`,
    /// `CONFIG GET`…).
    public func send(_ command: RedisCommand) async throws(RedisError) -> RedisValue {
        try await multiplexed.send(command)
    }

    /// Runs `body` with an event-loop connection of its own (see `RedisAsyncClient.withConnection`).
    public func withLoopConnection<T: Sendable>(_ body: (RedisChannelConnection) async throws -> T) async throws -> T {
        try await multiplexed.withConnection(body)
    }

    /// Several commands in one round trip on a pooled connection.
    public func pipeline(_ commands: [RedisCommand]) async throws -> [RedisValue] {
        try await withConnection { try $0.pipeline(commands) }
    }

    /// Closes every connection and stops the threads. Bodies still queued fail.
    public func shutdown() async {
        state.withLock { $0 = false }
        await multiplexed.shutdown()
        try? await threads.shutdownGracefully()
        let connections = idle.withLock { all in
            let taken = all
            all.removeAll()
            return taken
        }
        for c in connections { c.close() }
    }

    private func checkout() -> RedisConnection {
        idle.withLock { $0.popLast() } ?? RedisConnection(configuration: configuration)
    }

    private func checkin(_ connection: RedisConnection) {
        idle.withLock { $0.append(connection) }
    }
}
