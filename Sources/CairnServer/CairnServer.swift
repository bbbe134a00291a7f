import Cairn
import CairnProtocol
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The shared parts every connection of a server uses.
struct ServerContext: Sendable {
    let configuration: ServerConfiguration
    let store: Store
    let tokens: TokenStore
    let metrics: ServerMetrics
    let logger: Logger
    let methods: MethodTable
    let feed: ChangeFeed
}

/// `cairnd` as a library: a SwiftNIO server speaking the Cairn protocol over TCP.
///
/// `bind` opens the listening socket (port 0 picks a free one: read `port`), `run` serves until
/// `beginGracefulShutdown` (or the task is cancelled): it then stops accepting, lets every
/// request in flight finish and be answered, and closes the connections.
public final class CairnServer: Sendable {
    public let configuration: ServerConfiguration
    public let port: Int
    public let metrics: ServerMetrics
    let context: ServerContext
    private let serverChannel: NIOAsyncChannel<NIOAsyncChannel<InboundFrame, ByteBuffer>, Never>
    let registry: ConnectionRegistry
    /// Change events for this server's subscribers (one Redis pub/sub connection).
    public let feed: ChangeFeed

    public static func bind(
        configuration: ServerConfiguration, store: Store, tokens: TokenStore? = nil,
        logger: Logger = Logger(label: "cairnd"), group: MultiThreadedEventLoopGroup = .singleton
    ) async throws -> CairnServer {
        try configuration.validate()
        let maxLine = configuration.maxLineBytes
        let highWater = configuration.maxPendingOutputBytes
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // A client that sends its requests and then shuts down its side (`nc` at end of input)
            // still gets every answer: the connection closes once they are written.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: highWater / 2, high: highWater))
            .bind(host: configuration.host, port: configuration.port) { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder(maxLineBytes: maxLine)))
                    return try NIOAsyncChannel<InboundFrame, ByteBuffer>(
                        wrappingChannelSynchronously: child,
                        configuration: .init(backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8)))
                }
            }
        let metrics = ServerMetrics()
        let registryBox = RegistryBox()
        let tokens = tokens ?? TokenStore(redis: store.redis, keyPrefix: store.options.keyPrefix)
        let feed = ChangeFeed(
            store: store, options: FeedOptions(maxBufferedEvents: configuration.maxBufferedEvents),
            log: { [logger] line in logger.notice("\(line)") }, onDrop: { metrics.subscriptionsDropped.increment() },
            extraChannels: [tokens.revocationChannel], onExtraMessage: { channel, hash in tokens.invalidate(hash: hash) },
            onListening: {
                // Revocations published while the pub/sub connection was down were not heard:
                // check the tokens that subscriptions run under once more.
                Task { await registryBox.value?.recheckSubscriptionTokens(tokens) }
            })
        await feed.start()
        return CairnServer(
            configuration: configuration, store: store, tokens: tokens, logger: logger, channel: channel, feed: feed, metrics: metrics,
            registryBox: registryBox)
    }

    private init(
        configuration: ServerConfiguration, store: Store, tokens: TokenStore, logger: Logger,
        channel: NIOAsyncChannel<NIOAsyncChannel<InboundFrame, ByteBuffer>, Never>, feed: ChangeFeed, metrics: ServerMetrics,
        registryBox: RegistryBox
    ) {
        self.configuration = configuration
        serverChannel = channel
        port = channel.channel.localAddress?.port ?? configuration.port
        self.metrics = metrics
        let registry = ConnectionRegistry()
        self.registry = registry
        registryBox.value = registry
        tokens.onRevocation { hash in registry.revoke(tokenHash: hash) }
        context = ServerContext(
            configuration: configuration, store: store,
            tokens: tokens, metrics: metrics,
            logger: logger, methods: MethodTable.standard, feed: feed)
        self.feed = feed
    }

    /// Serves connections until shut down. Returns when every connection has closed.
    public func run() async throws {
        defer { feed.stop() }
        try await withTaskCancellationHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await serverChannel.executeThenClose { inbound in
                    for try await connection in inbound {
                        let id = registry.nextID()
                        // The connection's requests run on its channel's event loop (see
                        // `EventLoopTaskExecutor`), and so do its Redis commands.
                        group.addTask(executorPreference: EventLoopTaskExecutor(connection.channel.eventLoop)) {
                            await self.serve(connection, id: id)
                        }
                    }
                }
            }
        } onCancel: {
            beginGracefulShutdown()
        }
    }

    /// Stops accepting, finishes requests in flight, then closes every connection.
    public func beginGracefulShutdown() {
        serverChannel.channel.close(promise: nil)
        registry.shutdown()
    }

    /// Connections busy with a request right now.
    public var requestsInFlight: Int { registry.busyCount }

    /// Open connections.
    public var connectionCount: Int { registry.count }

    /// Closes every connection at once (requests in flight are not answered).
    public func closeAllConnections() {
        registry.closeAll()
    }

    func serve(_ connection: NIOAsyncChannel<InboundFrame, ByteBuffer>, id: Int) async {
        let channel = connection.channel
        let remote = channel.remoteAddress?.description ?? "unknown"
        var logger = context.logger
        logger[metadataKey: "connection"] = "\(id)"
        logger[metadataKey: "remote"] = "\(remote)"
        guard registry.add(id, channel: channel, limit: configuration.maxConnections) else {
            context.metrics.rejectedConnections.increment()
            logger.warning("connection refused: the server has \(configuration.maxConnections) open connections")
            var out: [UInt8] = []
            RPCCoding.error(id: .null, CairnError(.tooMany, "too many connections; try again later"), into: &out)
            out.append(UInt8(ascii: "\n"))
            try? await channel.writeAndFlush(ByteBuffer(bytes: out))
            try? await channel.close()
            return
        }
        context.metrics.openConnections.increment()
        logger.info("connection opened")
        defer {
            registry.remove(id)
            context.metrics.openConnections.decrement()
        }
        do {
            try await connection.executeThenClose { inbound, outbound in
                let session = Session(context: context, logger: logger, output: outbound)
                registry.attach(session.subscriptions, to: id)
                defer { session.close() }
                try await outbound.write(ByteBuffer(bytes: session.hello()))
                for try await frame in inbound {
                    guard registry.beginRequest(id) else { break }
                    let reply: [UInt8]?
                    var close = false
                    switch frame {
                    case .overlong:
                        reply = session.lineTooLong()
                        close = true
                    case .line(let line):
                        reply = await session.handle(line: line.readableBytesView)
                    }
                    if let reply { try await outbound.write(ByteBuffer(bytes: reply)) }
                    session.responseWritten()
                    if !registry.endRequest(id) || close { break }
                }
            }
            logger.info("connection closed")
        } catch {
            logger.info("connection closed: \(error)")
        }
    }
}

/// Lets the change feed, made before the registry, reach it.
final class RegistryBox: @unchecked Sendable {
    // Set once in CairnServer.init, before the server serves; read-only afterwards.
    var value: ConnectionRegistry?
}

extension ConnectionRegistry {
    /// Ends the subscriptions whose token no longer exists.
    func recheckSubscriptionTokens(_ tokens: TokenStore) async {
        for hash in subscriptionTokenHashes() where (try? await tokens.isValid(hash: hash)) == false {
            tokens.invalidate(hash: hash)
        }
    }
}

/// Open connections, and whether each is busy with a request (for graceful shutdown).
final class ConnectionRegistry: Sendable {
    private struct Entry {
        var channel: any Channel
        var busy: Bool
        var subscriptions: ConnectionSubscriptions?
    }

    private struct State {
        var nextID = 0
        var connections: [Int: Entry] = [:]
        var shuttingDown = false
    }

    private let state = Mutex(State())

    func nextID() -> Int {
        state.withLock { s in
            s.nextID += 1
            return s.nextID
        }
    }

    var count: Int { state.withLock { $0.connections.count } }
    var busyCount: Int { state.withLock { $0.connections.values.filter(\.busy).count } }

    func add(_ id: Int, channel: any Channel, limit: Int) -> Bool {
        state.withLock { s in
            guard !s.shuttingDown, s.connections.count < limit else { return false }
            s.connections[id] = Entry(channel: channel, busy: false)
            return true
        }
    }

    /// Makes the connection's subscriptions reachable for revocations.
    func attach(_ subscriptions: ConnectionSubscriptions, to id: Int) {
        state.withLock { $0.connections[id]?.subscriptions = subscriptions }
    }

    /// The token hashes that subscriptions run under right now.
    func subscriptionTokenHashes() -> Set<String> {
        let all = state.withLock { $0.connections.values.compactMap(\.subscriptions) }
        return all.reduce(into: Set<String>()) { $0.formUnion($1.tokenHashes) }
    }

    /// Ends every subscription opened under a revoked token, on every connection.
    func revoke(tokenHash: String) {
        let all = state.withLock { $0.connections.values.compactMap(\.subscriptions) }
        for subscriptions in all { subscriptions.revoke(tokenHash: tokenHash) }
    }

    func remove(_ id: Int) {
        _ = state.withLock { $0.connections.removeValue(forKey: id) }
    }

    /// False when the server is shutting down: the request is not started.
    func beginRequest(_ id: Int) -> Bool {
        state.withLock { s in
            guard !s.shuttingDown else { return false }
            s.connections[id]?.busy = true
            return true
        }
    }

    /// False when the connection should close now (the server is shutting down).
    func endRequest(_ id: Int) -> Bool {
        state.withLock { s in
            s.connections[id]?.busy = false
            return !s.shuttingDown
        }
    }

    /// Closes idle connections now; busy ones close after answering.
    func shutdown() {
        let idle: [any Channel] = state.withLock { s in
            s.shuttingDown = true
            return s.connections.values.filter { !$0.busy }.map(\.channel)
        }
        for channel in idle { channel.close(promise: nil) }
    }

    func closeAll() {
        let all = state.withLock { $0.connections.values.map(\.channel) }
        for channel in all { channel.close(promise: nil) }
    }
}
