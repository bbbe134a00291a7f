import CairnCore
import NIOCore
import NIOPosix

/// One connection to Redis on a SwiftNIO event loop: commands are written and replies read by
/// the loop, so a caller on that loop waits for Redis without any thread switch, and commands
/// written by many callers share the socket (pipelining). Safe to use from any task; a
/// transaction needs the connection to itself (see `RedisAsyncClient.withConnection`).
public final class RedisChannelConnection: Sendable {
    let channel: any Channel
    let events: RedisChannelEvents

    init(channel: any Channel, events: RedisChannelEvents) {
        self.channel = channel
        self.events = events
    }

    public var isActive: Bool { channel.isActive }

    /// Connects, authenticates and selects the database.
    package static func connect(
        _ configuration: RedisConfiguration, on loop: any EventLoop, onPush: (@Sendable (RedisPush) -> Bool)? = nil
    ) -> EventLoopFuture<RedisChannelConnection> {
        let events = RedisChannelEvents()
        let timeout = TimeAmount.milliseconds(Int64(configuration.commandTimeoutMilliseconds))
        let peer = configuration.description
        let connectTimeout = TimeAmount.milliseconds(Int64(configuration.connectTimeoutMilliseconds))
        // TCP and (with TLS) the handshake together must be done within the connect timeout.
        let deadline = NIODeadline.now() + connectTimeout
        let bootstrap = ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls = configuration.tls {
                        try tls.addHandlers(
                            to: channel, host: configuration.host, peer: peer, deadline: deadline,
                            timeoutMilliseconds: configuration.connectTimeoutMilliseconds)
                    } else {
                        try channel.pipeline.syncOperations.addHandler(TLSRedisDetector(peer: peer))
                    }
                    try channel.pipeline.syncOperations.addHandler(RedisChannelHandler(timeout: timeout, peer: peer, events: events, onPush: onPush))
                }
            }
        let connected: EventLoopFuture<any Channel>
        if let address = try? SocketAddress(ipAddress: configuration.host, port: configuration.port) {
            connected = bootstrap.connect(to: address)
        } else {
            connected = bootstrap.connect(host: configuration.host, port: configuration.port)
        }
        return connected.flatMapErrorThrowing { error in
            throw RedisError(.connection, "cannot reach Redis at \(configuration): \(RedisChannelConnection.describe(error))")
        }.flatMap { channel in
            // With TLS, connected means the handshake is done (its failure closes the channel).
            guard configuration.tls != nil else { return loop.makeSucceededFuture(channel) }
            return RedisTLS.handshakeDone(on: channel).map { channel }.flatMapErrorThrowing { error in
                channel.close(promise: nil)
                throw error
            }
        }.flatMap { channel in
            let connection = RedisChannelConnection(channel: channel, events: events)
            var setup: [RedisCommand] = []
            if let password = configuration.password {
                setup.append(configuration.username.map { ["AUTH", $0, password] } ?? ["AUTH", password])
            }
            if configuration.database != 0 { setup.append(["SELECT", String(configuration.database)]) }
            // Under TLS 1.3 a client's handshake is done before Redis has checked its certificate;
            // a refusal then comes with the first reply, which should be connect's.
            if configuration.tls != nil && setup.isEmpty { setup.append(["PING"]) }
            guard !setup.isEmpty else { return loop.makeSucceededFuture(connection) }
            let promise = loop.makePromise(of: [RedisValue].self)
            connection.write(setup, promise)
            return promise.futureResult.flatMapThrowing { replies in
                if let refused = replies.first(where: { $0.errorMessage != nil }) {
                    channel.close(promise: nil)
                    throw RedisError(.connection, "Redis at \(configuration) refused the connection set-up: \(refused.errorMessage!)")
                }
                return connection
            }
        }
    }

    /// A connection of the caller's own, outside any pool (tools and tests: an admin connection,
    /// many idle ones); the caller closes it.
    public static func open(
        _ configuration: RedisConfiguration, on loop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()
    ) async throws(RedisError) -> RedisChannelConnection {
        do {
            return try await connect(configuration, on: loop).valueOnCaller()
        } catch let error as RedisError {
            throw error
        } catch {
            throw RedisError(.connection, "cannot reach Redis at \(configuration): \(describe(error))")
        }
    }

    /// Writes every command, then waits for every reply (error replies are returned, not thrown).
    public func pipeline(_ commands: [RedisCommand]) async throws(RedisError) -> [RedisValue] {
        try await pipeline(commands, writes: false)
    }

    /// `writes`: the commands may change data, so a connection that breaks after they were
    /// handed to the socket fails them with `.outcomeUnknown`; before that, `.connection`.
    private func pipeline(_ commands: [RedisCommand], writes: Bool) async throws(RedisError) -> [RedisValue] {
        let promise = channel.eventLoop.makePromise(of: [RedisValue].self)
        write(commands, promise, writes: writes)
        do {
            // A cancelled caller stops waiting at once; the replies still come and are dropped
            // (the connection stays in order). A lent connection is then given up, not reused
            // (`.connection`/`.outcomeUnknown` lose it).
            return try await withCancellableWait(cancelled: {
                RedisError(
                    writes ? .outcomeUnknown : .connection,
                    writes ? "cancelled while waiting for Redis; the write was sent, its outcome is unknown" : "cancelled while waiting for Redis")
            }) { deliver in promise.futureResult.whenComplete { deliver($0) } }
        } catch let error as RedisError {
            throw error
        } catch {
            throw RedisError(writes ? .outcomeUnknown : .connection, "lost the connection to Redis: \(error)")
        }
    }

    /// One command and its reply (an error reply is returned, not thrown).
    public func send(_ command: RedisCommand) async throws(RedisError) -> RedisValue {
        try await pipeline([command])[0]
    }

    /// One command; an error reply throws `.server`.
    @discardableResult
    public func run(_ command: RedisCommand) async throws(RedisError) -> RedisValue {
        try await send(command).checked()
    }

    /// Writes commands whose replies nobody waits for (`UNWATCH` before handing the connection
    /// back): later commands on the connection still come after them.
    public func sendWithoutWaiting(_ commands: [RedisCommand]) {
        write(commands, nil)
    }

    /// `MULTI`, the commands, `EXEC` in one round trip. `.aborted` when a watched key changed.
    /// A command refused while queueing (bad syntax) aborts the whole transaction with an error.
    /// Throws `.connection` when nothing was sent, `.outcomeUnknown` when the connection broke
    /// after the transaction was handed to the socket — unless `readOnly` (a snapshot read of
    /// several keys): then a break is `.connection`, since nothing can have been written.
    public func transaction(_ commands: [RedisCommand], readOnly: Bool = false) async throws(RedisError) -> TransactionOutcome {
        try TransactionOutcome(replies: try await pipeline(TransactionOutcome.commands(wrapping: commands), writes: !readOnly))
    }

    public func close() {
        channel.close(promise: nil)
    }

    /// Hands the request to the channel on its loop; a closed channel fails it at once.
    package func write(_ commands: [RedisCommand], _ promise: EventLoopPromise<[RedisValue]>?, writes: Bool = false) {
        let channel = self.channel
        let request = RedisRequest(commands: commands, promise: promise, writes: writes)
        if channel.eventLoop.inEventLoop {
            RedisChannelConnection.write(request, to: channel)
        } else {
            channel.eventLoop.execute { RedisChannelConnection.write(request, to: channel) }
        }
    }

    private static func write(_ request: RedisRequest, to channel: any Channel) {
        guard channel.isActive else {
            request.promise?.fail(RedisError(.connection, "the connection to Redis is closed"))
            return
        }
        channel.write(request, promise: nil)  // the handler flushes (see RedisChannelHandler)
    }

    package static func describe(_ error: any Error) -> String {
        if let error = error as? IOError { return error.description }
        if let error = error as? ChannelError, case .connectTimeout(let t) = error {
            return "no answer within \(t.nanoseconds / 1_000_000) ms"
        }
        if let error = error as? NIOConnectionError {
            if let first = error.connectionErrors.first { return describe(first.error) }
            return "could not resolve \(error.host)"
        }
        return "\(error)"
    }
}
