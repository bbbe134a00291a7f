import NIOCore
import NIOPosix
import ServiceLifecycle

/// Cairn's way to Redis, all over SwiftNIO with hiredis as the reply parser only: single
/// commands pipelined on the caller's event loop (`send`), a connection lent whole for a body
/// of several commands (`withConnection`), and pub/sub on a connection of its own
/// (`RedisSubscriber`, on the same configuration).
///
/// Each event loop of `group` has one shared connection and up to `poolSize` lent ones (see
/// `RedisLoopConnections`); that is `poolSize`'s one meaning. A connection that broke (I/O
/// error, timeout, Redis restarted) is replaced on its next use.
public final class RedisPool: Service {
    public let configuration: RedisConfiguration
    /// Single commands and lent connections, over SwiftNIO on the caller's event loop.
    public let multiplexed: RedisAsyncClient

    /// `group`: the event loops whose callers get connections of their own (cairnd's).
    public init(configuration: RedisConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        multiplexed = RedisAsyncClient(configuration: configuration, group: group, exclusivePerLoop: configuration.poolSize)
    }

    /// One command, pipelined with other tasks' commands on the caller's event loop (see
    /// `RedisAsyncClient.send`): only for commands that are safe to send twice (reads, `PING`,
    /// `CONFIG GET`…).
    public func send(_ command: RedisCommand) async throws(RedisError) -> RedisValue {
        try await multiplexed.send(command)
    }

    /// Runs `body` with a connection of its own, on the caller's event loop (see
    /// `RedisAsyncClient.withConnection`: a body whose first command finds a stale socket runs
    /// once more on a fresh connection, so bodies begin with commands that change nothing).
    public func withConnection<T: Sendable>(_ body: (RedisChannelConnection) async throws -> T) async throws -> T {
        try await multiplexed.withConnection(body)
    }

    /// Several commands in one round trip on a lent connection.
    public func pipeline(_ commands: [RedisCommand]) async throws -> [RedisValue] {
        try await withConnection { try await $0.pipeline(commands) }
    }

    /// Closes every connection; later calls fail with `.connection`.
    public func shutdown() async {
        await multiplexed.shutdown()
    }

    /// As a `Service`: connections open on demand while this runs; on graceful shutdown or
    /// cancellation it closes them (`shutdown`) and returns. Start it before the services that
    /// use it, so that graceful shutdown reaches it after them.
    public func run() async {
        // Throws only on cancellation, which ends the run just as graceful shutdown does.
        try? await gracefulShutdown()
        await shutdown()
    }
}
