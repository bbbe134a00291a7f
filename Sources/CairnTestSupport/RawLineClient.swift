import Cairn
import NIOCore
import NIOPosix

/// A bare TCP line client for protocol tests: writes raw bytes, reads raw lines.
public final class RawLineClient: Sendable {
    private let channel: any Channel
    private let reader: Reader

    /// The line stream's iterator, used by one test task at a time.
    ///
    /// `@unchecked Sendable` is safe as tests use it: `iterator` is only touched by one child
    /// task of `readLine`, and `readLine` returns only once that child has ended (the task
    /// group awaits it after `cancelAll`); a test awaits each `readLine` before the next, so no
    /// two tasks ever touch `iterator` at once. An AsyncStream iterator is not Sendable only
    /// because iterating it from two tasks at once would be wrong.
    final class Reader: @unchecked Sendable {
        var iterator: AsyncStream<String>.AsyncIterator
        init(_ iterator: AsyncStream<String>.AsyncIterator) { self.iterator = iterator }
    }

    /// `reading: false` reads nothing off the socket until `startReading()`: a client that
    /// does not read its answers (with a small receive buffer, so the server feels it at once).
    public init(port: Int, host: String = "127.0.0.1", reading: Bool = true) async throws {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        if !reading {
            bootstrap = bootstrap.channelOption(.autoRead, value: false).channelOption(.socketOption(.so_rcvbuf), value: 4096)
        }
        channel = try await bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RawLineDecoder()))
                    try channel.pipeline.syncOperations.addHandler(LineCollector(continuation: continuation))
                }
            }
            .connect(host: host, port: port).get()
        reader = Reader(stream.makeAsyncIterator())
    }

    /// Starts reading (after `reading: false`).
    public func startReading() async throws {
        try await channel.setOption(.autoRead, value: true).get()
        channel.read()
    }

    /// Sends `text` as it is (add the newline yourself).
    public func send(_ text: String) async throws {
        try await send(bytes: Array(text.utf8))
    }

    public func send(bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Closes the sending side (like `nc` at the end of its input).
    public func shutdownOutput() async throws {
        try await channel.close(mode: .output)
    }

    /// The next line, or nil once the server closed the connection. Fails after `seconds`.
    public func readLine(timeout seconds: Double = 10) async throws -> String? {
        let reader = self.reader
        let channel = self.channel
        return try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask { await reader.iterator.next() }
            group.addTask {
                try await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
                channel.close(promise: nil)
                throw CairnError(.connectionFailed, "no line within \(seconds) s")
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
    }

    /// The next line, parsed.
    public func readJSON(timeout seconds: Double = 10) async throws -> JSONValue? {
        guard let line = try await readLine(timeout: seconds) else { return nil }
        return try JSONValue(parsing: line)
    }

    public func close() async {
        try? await channel.close()
    }
}

final class LineCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let continuation: AsyncStream<String>.Continuation
    init(continuation: AsyncStream<String>.Continuation) { self.continuation = continuation }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(String(buffer: unwrapInboundIn(data)))
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
    }
}

struct RawLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return .needMoreData }
        let line = buffer.readSlice(length: newline - buffer.readableBytesView.startIndex)!
        buffer.moveReaderIndex(forwardBy: 1)
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }
}
