import NIOCore
import NIOPosix
import Synchronization

/// A TCP proxy that, when armed, forwards the bytes holding `marker` (by default a Redis
/// transaction's `EXEC`; or a cairnd request line) and then closes the client's connection
/// without passing on any answer: the request is carried out (or not) while its sender is left
/// not knowing — the ambiguous case of a real outage.
public final class CuttingProxy: Sendable {
    /// RESP for `EXEC`.
    public static let exec = "*1\r\n$4\r\nEXEC\r\n"

    public let port: Int
    private let server: any Channel
    private let state: ProxyState

    public init(
        targetPort: Int, marker: String = CuttingProxy.exec, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws {
        let state = ProxyState(marker: Array(marker.utf8))
        self.state = state
        server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(ClientSide(targetPort: targetPort, state: state))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = server.localAddress!.port!
    }

    /// The next `count` connections that send the marker are cut right after it.
    public func cutNext(_ count: Int) { state.armed.store(count, ordering: .sequentiallyConsistent) }

    /// How many connections were cut so far.
    public var cuts: Int { state.dropped.load(ordering: .sequentiallyConsistent) }

    public func close() async { try? await server.close() }
}

final class ProxyState: Sendable {
    let marker: [UInt8]
    init(marker: [UInt8]) { self.marker = marker }
    let armed = Atomic<Int>(0)
    let dropped = Atomic<Int>(0)

    /// Takes one armed drop, if any.
    func takeDrop() -> Bool {
        while true {
            let n = armed.load(ordering: .sequentiallyConsistent)
            guard n > 0 else { return false }
            if armed.compareExchange(expected: n, desired: n - 1, ordering: .sequentiallyConsistent).exchanged { return true }
        }
    }
}

/// The client's side of one proxied connection (all on its event loop).
///
/// `@unchecked Sendable` is safe: its mutable state (`upstream`, `tail`, `cut`) is touched
/// only in handler callbacks and in the upstream connect's callbacks, and the upstream channel
/// is bootstrapped on this channel's own event loop (`ClientBootstrap(group: context.eventLoop)`),
/// so every one of them runs on that one thread. Sendable is needed only to capture `self` in
/// those future callbacks.
private final class ClientSide: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let targetPort: Int
    let state: ProxyState
    var upstream: (any Channel)?
    /// The last bytes seen, so that an `EXEC` split across reads is still found.
    var tail: [UInt8] = []
    var cut = false

    init(targetPort: Int, state: ProxyState) {
        self.targetPort = targetPort
        self.state = state
    }

    func channelActive(context: ChannelHandlerContext) {
        let client = context.channel
        ClientBootstrap(group: context.eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(UpstreamSide(client: client)) }
            }
            .connect(host: "127.0.0.1", port: targetPort)
            .assumeIsolated()
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    upstream = channel
                    client.setOption(.autoRead, value: true).whenComplete { _ in client.read() }
                case .failure:
                    client.close(promise: nil)
                }
            }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !cut, let upstream else { return }
        let buffer = unwrapInboundIn(data)
        let marker = state.marker
        let bytes = tail + Array(buffer.readableBytesView)
        let found = bytes.count >= marker.count
            && (0...(bytes.count - marker.count)).contains { bytes[$0..<($0 + marker.count)].elementsEqual(marker) }
        tail = Array(bytes.suffix(marker.count - 1))
        if found && state.takeDrop() {
            cut = true
            if let handler = try? upstream.pipeline.syncOperations.handler(type: UpstreamSide.self) { handler.cut = true }
            // The server gets the request; the client gets no answer, only a closed connection.
            // The server's side closes once its answer came (dropped), or after a while.
            upstream.writeAndFlush(buffer, promise: nil)
            upstream.eventLoop.scheduleTask(in: .seconds(10)) { upstream.close(promise: nil) }
            state.dropped.add(1, ordering: .sequentiallyConsistent)
            context.close(promise: nil)
            return
        }
        upstream.writeAndFlush(buffer, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !cut { upstream?.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

/// Redis's side of one proxied connection.
///
/// `@unchecked Sendable` is safe: `cut` is set by `ClientSide` and read here, both on the one
/// event loop both channels share (see `ClientSide`).
private final class UpstreamSide: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    let client: any Channel
    var cut = false

    init(client: any Channel) { self.client = client }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !cut else {
            context.close(promise: nil)  // the answer to the cut request: dropped
            return
        }
        client.writeAndFlush(unwrapInboundIn(data), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) { client.close(promise: nil) }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}
