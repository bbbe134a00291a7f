import NIOCore

/// What the line decoder hands on: a line, or the news that a line was too long.
enum InboundFrame: Sendable, Equatable {
    case line(ByteBuffer)
    case overlong
}

/// Splits the byte stream into `\n`-terminated lines (a trailing `\r` is dropped) and never
/// buffers more than `maxLineBytes` (+ the terminator): a longer line yields `.overlong` once,
/// after which everything is discarded (the server closes the connection).
struct LineFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = InboundFrame

    let maxLineBytes: Int
    private var discarding = false
    /// How far the buffer was already searched for a newline.
    private var scanned = 0

    init(maxLineBytes: Int) { self.maxLineBytes = maxLineBytes }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if discarding {
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return .needMoreData
        }
        let view = buffer.readableBytesView
        let start = view.startIndex + scanned
        if let newline = view[start...].firstIndex(of: UInt8(ascii: "\n")) {
            var length = newline - view.startIndex
            let hasCR = length > 0 && view[newline - 1] == UInt8(ascii: "\r")
            if hasCR { length -= 1 }
            scanned = 0
            if length > maxLineBytes {
                discarding = true
                buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                context.fireChannelRead(wrapInboundOut(.overlong))
                return .needMoreData
            }
            let line = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: hasCR ? 2 : 1)
            context.fireChannelRead(wrapInboundOut(.line(line)))
            return .continue
        }
        scanned = view.count
        if view.count > maxLineBytes + 1 {
            discarding = true
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            context.fireChannelRead(wrapInboundOut(.overlong))
        }
        return .needMoreData
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A last line without its newline is still a request.
        while try decode(context: context, buffer: &buffer) == .continue {}
        if !discarding, buffer.readableBytes > 0 {
            let line = buffer.readSlice(length: buffer.readableBytes)!
            context.fireChannelRead(wrapInboundOut(.line(line)))
        }
        return .needMoreData
    }
}
