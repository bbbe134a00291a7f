import CairnCore
import Foundation
import Logging
import MCP
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The Streamable HTTP endpoint: SwiftNIO's HTTP/1.1 server in front of one SDK
/// `StatefulHTTPServerTransport` per MCP session (see `HTTPSessions`).
public final class MCPHTTPServer: Service, Sendable {
    public let configuration: MCPHTTPConfiguration
    private let sessions: HTTPSessions
    private let logger: Logger
    private let group: any EventLoopGroup
    private let bound = Mutex<(any Channel)?>(nil)

    public init(_ configuration: MCPHTTPConfiguration, logger: Logger, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.logger = logger
        self.group = group
        self.sessions = HTTPSessions(configuration: configuration, logger: logger)
    }

    /// Binds the listener; returns the port (useful with port 0).
    @discardableResult
    public func bind() async throws -> Int {
        if let channel = bound.withLock({ $0 }) { return channel.localAddress?.port ?? configuration.port }
        let sessions = self.sessions, configuration = self.configuration, logger = self.logger
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPRequestHandler(sessions: sessions, configuration: configuration, logger: logger))
                }
            }
            .bind(host: configuration.host, port: configuration.port).get()
        bound.withLock { $0 = channel }
        let port = channel.localAddress?.port ?? configuration.port
        logger.notice("mcp: Streamable HTTP endpoint on http://\(configuration.host):\(port)\(configuration.path)")
        return port
    }

    /// Serves until cancelled or gracefully shut down, reaping idle sessions meanwhile.
    public func run() async throws {
        try await bind()
        let sessions = self.sessions, timeout = configuration.idleTimeout
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    let tick = min(timeout, .seconds(5))
                    while !Task.isCancelled {
                        try? await Task.sleep(for: tick)  // a periodic sweep, not synchronisation
                        await sessions.reap()
                    }
                }
                if let channel = self.bound.withLock({ $0 }) { try? await channel.closeFuture.get() }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.shutdown()
        }
        await sessions.closeAll()
    }

    /// Stops listening; `run` then closes every session and returns.
    public func shutdown() {
        bound.withLock { $0 }?.close(promise: nil)
    }

    public var sessionCount: Int { get async { await sessions.count } }
}

/// One HTTP connection: collects each request (bounded by `maxBodyBytes` and
/// `requestTimeout`), hands it to the sessions, and writes the answer — an SSE stream chunk by
/// chunk as the transport yields it.
final class HTTPRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let sessions: HTTPSessions
    private let configuration: MCPHTTPConfiguration
    private let logger: Logger
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var rejected = false
    private var deadline: Scheduled<Void>?
    private var streaming: Task<Void, Never>?

    init(sessions: HTTPSessions, configuration: MCPHTTPConfiguration, logger: Logger) {
        self.sessions = sessions
        self.configuration = configuration
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
            rejected = false
            let channel = context.channel
            deadline = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(configuration.requestTimeout.components.seconds) * 1_000_000_000)) {
                channel.close(promise: nil)
            }
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > configuration.maxBodyBytes {
                reject(context, 413, "the request body is larger than \(configuration.maxBodyBytes) bytes")
            }
        case .body(var chunk):
            guard !rejected else { return }
            if body.readableBytes + chunk.readableBytes > configuration.maxBodyBytes {
                reject(context, 413, "the request body is larger than \(configuration.maxBodyBytes) bytes")
                return
            }
            body.writeBuffer(&chunk)
        case .end:
            deadline?.cancel()
            deadline = nil
            if rejected {
                // The whole body was read (and dropped), so closing now cannot reset the
                // connection under the 413 before the client reads it.
                context.close(promise: nil)
                return
            }
            guard let head else { return }
            self.head = nil
            guard HTTPSessionIdentity.pathOnly(head.uri) == configuration.path else {
                write(context, status: 404, headers: ["Content-Type": "text/plain"], body: "not found: the MCP endpoint is \(configuration.path)\n", keepAlive: head.isKeepAlive)
                return
            }
            var headers: [String: String] = [:]
            for (name, value) in head.headers {
                headers[name] = headers[name].map { "\($0), \(value)" } ?? value
            }
            let request = HTTPRequest(
                method: head.method.rawValue, headers: headers,
                body: body.readableBytes > 0 ? Data(body.readableBytesView) : nil, path: HTTPSessionIdentity.pathOnly(head.uri))
            let sessions = self.sessions
            let target = head.uri
            let keepAlive = head.isKeepAlive
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            Task {
                let response = await sessions.handle(request, target: target)
                eventLoop.execute {
                    let (handler, context) = loopBound.value
                    handler.respond(context, response, keepAlive: keepAlive)
                }
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        streaming?.cancel()
        context.fireChannelInactive()
    }

    /// Answers at once and drops the rest of the body; the connection closes when the body has
    /// ended (or at the request deadline, which still runs, for a body that never ends).
    private func reject(_ context: ChannelHandlerContext, _ status: Int, _ message: String) {
        rejected = true
        write(context, status: status, headers: ["Content-Type": "text/plain", "Connection": "close"], body: message + "\n", keepAlive: true)
    }

    private func respond(_ context: ChannelHandlerContext, _ response: HTTPResponse, keepAlive: Bool) {
        guard context.channel.isActive else { return }
        switch response {
        case .stream(let stream, let headers):
            var head = HTTPResponseHead(version: .http1_1, status: .ok)
            for (name, value) in headers { head.headers.add(name: name, value: value) }
            context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
            let channel = context.channel
            let sessions = self.sessions
            let sessionID = headers.first { $0.key.lowercased() == HTTPHeaderName.sessionID.lowercased() }?.value
            // An SSE comment every 25 s: a client that vanished without closing its connection
            // makes a write fail, which closes the connection and ends the stream, so its session
            // can go idle and be closed instead of held open forever.
            let keepalive = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(25), delay: .seconds(25)) { _ in
                channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: ": keepalive\n\n"))))
                    .whenFailure { _ in channel.close(promise: nil) }
            }
            streaming = Task {
                await sessions.streamOpened(sessionID)
                defer { keepalive.cancel() }
                do {
                    for try await chunk in stream {
                        var buffer = channel.allocator.buffer(capacity: chunk.count)
                        buffer.writeBytes(chunk)
                        try await channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer)))
                        guard await sessions.sent(chunk.count, by: sessionID) else { break }
                    }
                    keepalive.cancel()
                    try await channel.writeAndFlush(HTTPServerResponsePart.end(nil))
                    if !keepAlive { try await channel.close() }
                } catch {
                    try? await channel.close()
                }
                await sessions.streamClosed(sessionID)
            }
        default:
            var headers = response.headers
            if let body = response.bodyData, headers.keys.first(where: { $0.lowercased() == "content-type" }) == nil, !body.isEmpty {
                headers["Content-Type"] = "application/json"
            }
            write(context, status: response.statusCode, headers: headers, body: response.bodyData.map { String(decoding: $0, as: UTF8.self) } ?? "", keepAlive: keepAlive)
        }
    }

    private func write(_ context: ChannelHandlerContext, status: Int, headers: [String: String], body: String, keepAlive: Bool) {
        var head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status))
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        head.headers.replaceOrAdd(name: "Content-Length", value: "\(body.utf8.count)")
        if !keepAlive { head.headers.replaceOrAdd(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}
