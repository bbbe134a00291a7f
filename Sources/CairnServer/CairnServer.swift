import Cairn
import CairnProtocol
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
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
/// A `Service`. `bind` opens the listening socket (port 0 picks a free one: read `port`) and
/// starts nothing else; `run` serves until graceful shutdown, `beginGracefulShutdown` or
/// cancellation: it then stops accepting, lets every request in flight finish and be answered,
/// and closes the connections. Its change feed (`feed`) is a service of its own, to run before
/// it (`services` lists both in order).
public final class CairnServer: Service {
    public let configuration: ServerConfiguration
    public let port: Int
    public let metrics: ServerMetrics
    let context: ServerContext
    private let serverChannel: NIOAsyncChannel<NIOAsyncChannel<[InboundFrame], ByteBuffer>, Never>
    let registry: ConnectionRegistry
    /// Change events for this server's subscribers (one Redis pub/sub connection).
    public let feed: ChangeFeed
    /// The listener's TLS context (nil without TLS): `reloadTLS` swaps it for new connections.
    public let tls: ServerTLS?

    public static func bind(
        configuration: ServerConfiguration, store: Store, tokens: TokenStore? = nil,
        logger: Logger = Logger(label: "cairnd"), group: MultiThreadedEventLoopGroup = .singleton
    ) async throws -> CairnServer {
        try configuration.validate()
        let maxLine = configuration.maxLineBytes
        let highWater = configuration.maxPendingOutputBytes
        let tls = try configuration.tls.map { settings throws(CairnError) in try ServerTLS(settings: settings) }
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
                    // The same line protocol inside TLS: TLS handlers first, the lines after.
                    try tls?.addHandlers(to: child, logger: logger)
                    try child.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder(maxLineBytes: maxLine)))
                    try child.pipeline.syncOperations.addHandler(FrameBatcher())
                    return try NIOAsyncChannel<[InboundFrame], ByteBuffer>(
                        wrappingChannelSynchronously: child,
                        configuration: .init(backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8)))
                }
            }
        let metrics = ServerMetrics()
        // Made before the feed, so that the feed's callbacks reach it from their first call.
        let registry = ConnectionRegistry()
        let tokens = tokens ?? TokenStore(redis: store.redis, keyPrefix: store.options.keyPrefix)
        let feed = ChangeFeed(
            store: store,
            options: FeedOptions(
                maxBufferedEvents: configuration.maxBufferedEvents,
                maxBufferedBytesPerSubscription: configuration.maxBufferedBytesPerSubscription,
                maxBufferedBytes: configuration.maxEventBufferBytes),
            log: { [logger] line in logger.notice("\(line)") }, onDrop: { metrics.subscriptionsDropped.increment() },
            extraChannels: [tokens.revocationChannel], onExtraMessage: { channel, hash in tokens.invalidate(hash: hash) },
            onListening: {
                // Revocations published while the pub/sub connection was down were not heard:
                // check the tokens that subscriptions run under once more.
                await registry.recheckSubscriptionTokens(tokens)
            })
        metrics.observeEventBufferBytes { [weak feed] in feed?.bufferedBytes ?? 0 }
        return CairnServer(
            configuration: configuration, store: store, tokens: tokens, logger: logger, channel: channel, feed: feed, metrics: metrics,
            registry: registry, tls: tls)
    }

    private init(
        configuration: ServerConfiguration, store: Store, tokens: TokenStore, logger: Logger,
        channel: NIOAsyncChannel<NIOAsyncChannel<[InboundFrame], ByteBuffer>, Never>, feed: ChangeFeed, metrics: ServerMetrics,
        registry: ConnectionRegistry, tls: ServerTLS?
    ) {
        self.configuration = configuration
        self.tls = tls
        serverChannel = channel
        port = channel.channel.localAddress?.port ?? configuration.port
        self.metrics = metrics
        self.registry = registry
        tokens.onRevocation { hash in registry.revoke(tokenHash: hash) }
        context = ServerContext(
            configuration: configuration, store: store,
            tokens: tokens, metrics: metrics,
            logger: logger, methods: MethodTable.standard, feed: feed)
        self.feed = feed
    }

    /// The services this server needs, in the order a `ServiceGroup` starts them: its change
    /// feed, then the server itself (graceful shutdown goes the other way: the connections
    /// close before the feed stops). The store's Redis client is the caller's to run.
    public var services: [any Service] { [feed, self] }

    /// Serves connections until graceful shutdown, `beginGracefulShutdown` or cancellation: it
    /// then stops accepting, lets every request in flight be answered, and closes the
    /// connections. Returns when every connection has closed. The change feed is a service of
    /// its own (`feed`, see `services`): without it running, subscriptions get no events.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await serve()
        } onGracefulShutdown: {
            self.beginGracefulShutdown()
        }
    }

    private func serve() async throws {
        try await withTaskCancellationHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await serverChannel.executeThenClose { inbound in
                    for try await connection in inbound {
                        let id = registry.nextID()
                        // The connection's requests run on its channel's event loop (see
                        // `EventLoopTaskExecutor`), and so do its Redis commands.
                        let executor = EventLoopTaskExecutor(connection.channel.eventLoop)
                        group.addTask(executorPreference: executor) {
                            await self.serve(connection, id: id, executor: executor)
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

    /// Reads the TLS certificate, key and client CA files again (on `SIGHUP`): connections
    /// accepted from now on get them, open connections go on as they are. On an error nothing
    /// changes. Without TLS, nothing to do.
    public func reloadTLS() throws(CairnError) {
        try tls?.reload()
    }

    /// Connections busy with a request right now.
    public var requestsInFlight: Int { registry.busyCount }

    /// The most requests one connection has had in flight at once (started, not yet answered)
    /// since the server started: above 1 only when read-only requests ran concurrently.
    public var peakRequestsInFlightPerConnection: Int { registry.peakRequestsPerConnection }

    /// How many read-only requests one connection may have in flight at once. When that many
    /// are, the server reads no further line from the connection until the oldest is answered.
    public static let maxRequestsInFlightPerConnection = 32

    /// Open connections.
    public var connectionCount: Int { registry.count }

    /// Closes every connection at once (requests in flight are not answered).
    public func closeAllConnections() {
        registry.closeAll()
    }

    func serve(_ connection: NIOAsyncChannel<[InboundFrame], ByteBuffer>, id: Int, executor: EventLoopTaskExecutor) async {
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
            try await connection.executeThenClose { [logger] inbound, outbound in
                try await self.answer(
                    inbound, outbound, id: id, logger: logger, executor: executor, on: ConnectionActor(channel))
            }
            logger.info("connection closed")
        } catch {
            logger.info("connection closed: \(error)")
        }
    }

    /// Reads a connection's requests and answers each, in the order they came; returns once every
    /// request it started is answered.
    ///
    /// Consecutive read-only lines (`MethodTable.isReadOnly`) run concurrently, at most
    /// `maxRequestsInFlightPerConnection` at once: each starts as soon as it is read, in a task of
    /// its own isolated to the connection, and its answer is written once every answer before
    /// it is (`Answers`). Any other line is a barrier: it waits until every earlier request is
    /// answered, runs alone, and no later line is read before its answer is written. So a request
    /// sees every write (and `auth`) sent before it on the connection, and none sent after it.
    ///
    /// Lines come in batches, those read off the socket together (`FrameBatcher`). A read-only
    /// line that is the last of its batch, with nothing in flight, runs in this task: a client
    /// that does not pipeline pays for no task.
    private func answer(
        _ inbound: NIOAsyncChannelInboundStream<[InboundFrame]>, _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        id: Int, logger: Logger, executor: EventLoopTaskExecutor, on connection: isolated ConnectionActor
    ) async throws {
        let registry = self.registry
        let methods = context.methods
        let channel = connection.channel
        let session = Session(context: context, logger: logger, output: outbound)
        registry.attach(session.subscriptions, to: id)
        defer { session.close() }
        try await outbound.write(ByteBuffer(bytes: session.hello()))
        session.startAuthDeadline(on: channel)
        let answers = Answers(outbound: outbound, session: session) { count in
            // Shutting down, and that was the last request in flight: close now (the loop below
            // may be waiting for a line that never comes).
            if registry.endRequests(id, count: count) == .close { channel.close(promise: nil) }
        }
        do {
            reading: for try await frames in inbound {
                for (index, frame) in frames.enumerated() {
                    guard case .line(let line) = frame else {
                        // Overlong: answered, then the connection closes.
                        await answers.settle(toAtMost: 0)
                        guard answers.failure == nil, registry.beginRequest(id) else { break reading }
                        await answers.complete(answers.reserve(), with: session.lineTooLong())
                        break reading
                    }
                    let incoming = RPCCoding.decode(line: line.readableBytesView)
                    if methods.isReadOnly(incoming) {
                        await answers.settle(toAtMost: Self.maxRequestsInFlightPerConnection - 1)
                        guard answers.failure == nil, registry.beginRequest(id) else { break reading }
                        let place = answers.reserve()
                        if index == frames.count - 1 && place == answers.first {
                            // Alone (the last line of its batch, nothing in flight): run it here.
                            await answers.complete(place, with: await session.handle(incoming))
                            continue
                        }
                        // A task of its own, isolated to the connection (capturing `connection`
                        // makes it so) and on its event loop; where it exists, `Task.immediate`
                        // runs it at once up to its first suspension (the Redis call) instead of
                        // queueing it.
                        if #available(macOS 26, *) {
                            Task.immediate(executorPreference: executor) {
                                _ = connection
                                await answers.complete(place, with: await session.handle(incoming))
                            }
                        } else {
                            Task {  // (isolated to the connection, but off its event loop)
                                _ = connection
                                await answers.complete(place, with: await session.handle(incoming))
                            }
                        }
                    } else {
                        // Alone: every earlier answer is written, and nothing else writes now.
                        await answers.settle(toAtMost: 0)
                        guard answers.failure == nil, registry.beginRequest(id) else { break reading }
                        let reply = await session.handle(incoming)
                        if let reply { try await outbound.write(ByteBuffer(bytes: reply)) }
                        session.responseWritten()
                        if registry.endRequests(id) != .goOn { break reading }
                    }
                }
            }
        } catch {
            await answers.settle(toAtMost: 0)
            throw error
        }
        await answers.settle(toAtMost: 0)
        if let failure = answers.failure { throw failure }
    }
}

/// Hands on the lines decoded from one read of the socket as one batch, so that a client's
/// pipelined requests reach the connection's task together.
final class FrameBatcher: ChannelInboundHandler {
    typealias InboundIn = InboundFrame
    typealias InboundOut = [InboundFrame]

    private var batch: [InboundFrame] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        batch.append(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush(context)
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        flush(context)  // the last line before an end of input
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        flush(context)
        context.fireChannelInactive()
    }

    private func flush(_ context: ChannelHandlerContext) {
        guard !batch.isEmpty else { return }
        var lines: [InboundFrame] = []
        swap(&lines, &batch)
        context.fireChannelRead(wrapInboundOut(lines))
    }
}

/// A connection's answers not yet written, in request order. Requests take a place in line
/// (`reserve`) when they start and hand in their answer (`complete`) when they end, in any
/// order; answers go out strictly in line order, those ready together in one write. Used only
/// isolated to the connection's `ConnectionActor`.
final class Answers {
    private enum Place {
        case running
        /// The answer, nil when there is none to send (a notification).
        case done([UInt8]?)
    }

    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private let session: Session
    /// Told how many answers were just written (or dropped, after a failed write).
    private let written: (Int) -> Void
    /// The places not yet written, oldest first; `places[0]` is number `first`.
    private var places: [Place] = []
    /// The number of the oldest place not yet written (the next place's when none is left).
    private(set) var first = 0
    /// Whether some request's task is writing answers now (it writes every answer ready in line),
    /// and how many.
    private var writing = false
    private var beingWritten = 0
    private var waiter: (limit: Int, continuation: CheckedContinuation<Void, Never>)?
    /// Why an answer could not be written; later answers are dropped.
    private(set) var failure: (any Error)?

    init(
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, session: Session, written: @escaping (Int) -> Void
    ) {
        self.outbound = outbound
        self.session = session
        self.written = written
    }

    /// The next place in line.
    func reserve() -> Int {
        places.append(.running)
        return first + places.count - 1
    }

    /// Hands in the answer for `place`, and writes every answer now ready at the head of the line
    /// unless another request's task is at it already.
    func complete(_ place: Int, with answer: [UInt8]?) async {
        places[place - first] = .done(answer)
        guard !writing else { return }
        writing = true
        while case .done = places.first {
            var bytes: [UInt8] = []
            var count = 0
            while case .done(let answer)? = places.first {
                if let answer { bytes += answer }
                places.removeFirst()
                first += 1
                count += 1
            }
            beingWritten = count
            if failure == nil, !bytes.isEmpty {
                do { try await outbound.write(ByteBuffer(bytes: bytes)) } catch { failure = error }
            }
            beingWritten = 0
            session.responseWritten()
            written(count)
            wakeWaiter()
        }
        writing = false
        wakeWaiter()
    }

    /// Waits until at most `limit` answers are unwritten; with 0, until every answer is written.
    func settle(toAtMost limit: Int) async {
        guard !isSettled(limit) else { return }
        await withCheckedContinuation { waiter = (limit, $0) }
    }

    /// Whether at most `limit` answers are unwritten (with 0: every answer is written).
    func isSettled(_ limit: Int) -> Bool {
        places.count + beingWritten <= limit && (limit > 0 || !writing)
    }

    private func wakeWaiter() {
        guard let waiter, isSettled(waiter.limit) else { return }
        self.waiter = nil
        waiter.continuation.resume()
    }
}

/// A connection's own isolation: its requests run isolated to it (`CairnServer.answer`), so
/// they share the connection's `Session` without locks, even while several run at once. A plain
/// actor: its code runs where its tasks prefer — the connection's event loop (see
/// `EventLoopTaskExecutor`) — and stepping on and off it (into NIO's async API, into Redis) needs
/// no other thread. Nothing here blocks.
actor ConnectionActor {
    /// The connection's channel.
    nonisolated let channel: any Channel

    init(_ channel: any Channel) {
        self.channel = channel
    }
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
        /// Requests started and not yet answered.
        var requests: Int
        var subscriptions: ConnectionSubscriptions?
    }

    private struct State {
        var nextID = 0
        var connections: [Int: Entry] = [:]
        var shuttingDown = false
        var peakRequestsPerConnection = 0
    }

    /// What a connection does after answering a request.
    enum AfterRequest {
        /// Go on.
        case goOn
        /// The server is shutting down: start no more requests; answer those in flight.
        case finish
        /// The server is shutting down and nothing is in flight: close the connection.
        case close
    }

    private let state = Mutex(State())

    func nextID() -> Int {
        state.withLock { s in
            s.nextID += 1
            return s.nextID
        }
    }

    var count: Int { state.withLock { $0.connections.count } }
    var busyCount: Int { state.withLock { $0.connections.values.filter { $0.requests > 0 }.count } }
    var peakRequestsPerConnection: Int { state.withLock { $0.peakRequestsPerConnection } }

    func add(_ id: Int, channel: any Channel, limit: Int) -> Bool {
        state.withLock { s in
            guard !s.shuttingDown, s.connections.count < limit else { return false }
            s.connections[id] = Entry(channel: channel, requests: 0)
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
            if let requests = s.connections[id]?.requests {
                s.connections[id]?.requests = requests + 1
                s.peakRequestsPerConnection = max(s.peakRequestsPerConnection, requests + 1)
            }
            return true
        }
    }

    /// `count` requests of the connection were answered.
    func endRequests(_ id: Int, count: Int = 1) -> AfterRequest {
        state.withLock { s in
            var left = 0
            if let requests = s.connections[id]?.requests {
                left = max(requests - count, 0)
                s.connections[id]?.requests = left
            }
            guard s.shuttingDown else { return .goOn }
            return left == 0 ? .close : .finish
        }
    }

    /// Closes idle connections now; busy ones close after answering what is in flight.
    func shutdown() {
        let idle: [any Channel] = state.withLock { s in
            s.shuttingDown = true
            return s.connections.values.filter { $0.requests == 0 }.map(\.channel)
        }
        for channel in idle { channel.close(promise: nil) }
    }

    func closeAll() {
        let all = state.withLock { $0.connections.values.map(\.channel) }
        for channel in all { channel.close(promise: nil) }
    }
}
