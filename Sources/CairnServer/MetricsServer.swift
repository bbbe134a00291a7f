import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// A small HTTP server for operations: `GET /metrics` (Prometheus text exposition),
/// `GET /health/live` (200 while the process serves HTTP at all) and `GET /health/ready` (200
/// when `readiness` finds nothing wrong, else 503 with the reasons, one a line). `/health` is
/// answered as `/health/ready`: a probe written against it must not see 200 while Redis is down.
public final class MetricsServer: Service {
    public let port: Int
    private let channel: any Channel

    /// `readiness` is asked on every `/health/ready`; it must answer within a bounded time
    /// (`CairnServer.readiness` gives up on Redis after 2 s).
    public static func bind(
        host: String, port: Int, metrics: ServerMetrics, readiness: @escaping @Sendable () async -> Readiness,
        tls: ServerTLS? = nil, group: MultiThreadedEventLoopGroup = .singleton
    ) async throws -> MetricsServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // With TLS on, the same certificate (and client CA) as the protocol listener.
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(metrics: metrics, readiness: readiness))
                }
            }
            .bind(host: host, port: port).get()
        return MetricsServer(channel: channel)
    }

    private init(channel: any Channel) {
        self.channel = channel
        port = channel.localAddress?.port ?? 0
    }

    /// Serves until `close`, graceful shutdown or cancellation (each closes the listener); a
    /// probe answered meanwhile is answered in full, its connection closing after it.
    public func run() async throws {
        let channel = self.channel
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await channel.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            channel.close(promise: nil)
        }
    }

    public func close() {
        channel.close(promise: nil)
    }
}

final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let metrics: ServerMetrics
    let readiness: @Sendable () async -> Readiness
    private var path = ""
    private var keepAlive = false

    init(metrics: ServerMetrics, readiness: @escaping @Sendable () async -> Readiness) {
        self.metrics = metrics
        self.readiness = readiness
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            keepAlive = head.isKeepAlive
        case .body:
            break
        case .end:
            switch path {
            case "/metrics":
                respond(context: context, status: .ok, contentType: "text/plain; version=0.0.4", body: metrics.exposition())
            case "/health/live":
                respond(context: context, status: .ok, body: Array("live\n".utf8))
            case "/health/ready", "/health":
                // The check awaits Redis: off the event loop, answered back on it.
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                let check = readiness
                let eventLoop = context.eventLoop
                Task {
                    let outcome = await check()
                    eventLoop.execute {
                        let (handler, context) = bound.value
                        if outcome.isReady {
                            handler.respond(context: context, status: .ok, body: Array("ready\n".utf8))
                        } else {
                            let text = "not ready:\n" + outcome.problems.map { "- \($0)\n" }.joined()
                            handler.respond(context: context, status: .serviceUnavailable, body: Array(text.utf8))
                        }
                    }
                }
            default:
                respond(context: context, status: .notFound, body: Array("not found: try /metrics, /health/live or /health/ready\n".utf8))
            }
        }
    }

    private func respond(context: ChannelHandlerContext, status: HTTPResponseStatus, contentType: String = "text/plain", body: [UInt8]) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.count))
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
