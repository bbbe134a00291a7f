import CairnCore
import CairnProtocol
import NIOCore

/// A request on its way out, with the promise its response will fulfil.
struct OutgoingRequest {
    var id: Int
    var bytes: ByteBuffer
    var promise: EventLoopPromise<JSONValue>
}

/// Splits the server's output into lines (no more than `maxLineBytes` each).
struct ClientLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    let maxLineBytes: Int

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > maxLineBytes {
                throw CairnError(.connectionFailed, "the server sent a line longer than \(maxLineBytes) bytes")
            }
            return .needMoreData
        }
        let length = newline - buffer.readableBytesView.startIndex
        let line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }
}

/// Matches responses to requests by id (so any number may be in flight: pipelining), and
/// hands server notifications (`hello`, `event`, …) to a stream. Lives on the channel's event
/// loop; all its state is confined there.
final class ClientChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = OutgoingRequest
    typealias OutboundOut = ByteBuffer

    private var pending: [Int: EventLoopPromise<JSONValue>] = [:]
    private let notifications: AsyncStream<JSONValue>.Continuation
    private var closedError: CairnError?
    /// Where the first failure is told, for a `connect` that waits for `hello`.
    private let failures: FirstFailure?
    /// host:port, for error messages.
    private let address: String

    init(notifications: AsyncStream<JSONValue>.Continuation, failures: FirstFailure? = nil, address: String = "the server") {
        self.notifications = notifications
        self.failures = failures
        self.address = address
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let closedError {
            request.promise.fail(closedError)
            promise?.fail(closedError)
            return
        }
        pending[request.id] = request.promise
        context.write(wrapOutboundOut(request.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let line = unwrapInboundIn(data)
        guard let message = try? JSONValue(parsing: line.readableBytesView) else { return }
        if let id = message["id"]?.intValue, let promise = pending.removeValue(forKey: id) {
            promise.succeed(message)
        } else if message["method"] != nil {
            if case .dropped = notifications.yield(message) {
                fail(CairnError(.connectionFailed, "notifications arrived faster than they were read; the connection was closed"))
                context.close(promise: nil)
            }
        } else if let error = message["error"], message["id"] == .null {
            // An error without id: the server refused the connection (too many) or a line.
            let decoded = RPCCoding.decodeError(error)
            if decoded.reason == .tooMany || decoded.reason == .lineTooLong { fail(decoded) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(CairnError(.connectionFailed, "the connection to the server closed"))
        notifications.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(ClientTLSFailure.describe(error, address: address))
        context.close(promise: nil)
    }

    private func fail(_ error: CairnError) {
        if closedError == nil { closedError = error }
        failures?.note(error)
        let waiting = pending
        pending.removeAll()
        for (_, promise) in waiting { promise.fail(error) }
    }
}
