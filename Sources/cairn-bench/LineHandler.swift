import CairnCore
import CairnProtocol
import NIOCore

/// Who gets the answers of a `LineHandler`'s requests: a connection's workers.
protocol LineReceiver: AnyObject {
    /// The answer to the request `worker` sent, scanned; `line` is its bytes (for error messages).
    func answered(_ worker: Int, _ answer: ResponseScan, _ line: UnsafeRawBufferPointer)
    /// The connection broke (or cairnd broke the protocol) with `worker`'s request unanswered.
    func lost(_ worker: Int, _ reason: String)
}

/// One connection of the line driver, on its event loop. It numbers each request, splits
/// cairnd's output into lines, scans each (`ResponseScan`) and hands it to the worker whose
/// request it answers: cairnd answers in request order, so the answer's id must be the oldest
/// unanswered request's; anything else breaks the connection. Notifications are skipped.
/// Requests sent while answers are being read go out in one write at the end of the read.
final class LineHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct Sent {
        var id: Int
        var worker: Int
    }

    /// The worker number of the set-up's own `auth` request.
    private static let handshake = -1
    private static let maxLineBytes = 64 << 20

    weak var receiver: (any LineReceiver)?
    private var context: ChannelHandlerContext?
    private var sent = CircularBuffer<Sent>(initialCapacity: 16)
    private var nextID = 0
    /// The start of a line whose end has not arrived yet.
    private var carry: ByteBuffer?
    /// Requests not written yet (while a read is being handled).
    private var out: ByteBuffer
    private var reading = false
    /// Why the connection can take no more requests.
    private(set) var broken: String?
    /// The most requests in flight at once since the workers last reset it.
    var maxInFlight = 0
    private let token: String?
    private var ready: EventLoopPromise<Void>?
    /// Succeeds once cairnd has said `hello` and, with a token, accepted it (set when added).
    private(set) var greeted: EventLoopFuture<Void>?

    init(token: String?, allocator: ByteBufferAllocator) {
        self.token = token
        out = allocator.buffer(capacity: 4096)
    }

    /// Sends a request for `worker`: `write` adds everything after the id, closing brace
    /// included (`LineRequests` writes those parts). False when the connection is broken
    /// (nothing was sent).
    @discardableResult
    func send(_ worker: Int, _ write: (inout ByteBuffer) -> Void) -> Bool {
        guard broken == nil, let context else { return false }
        nextID += 1
        LineRequests.writeID(nextID, into: &out)
        write(&out)
        out.writeInteger(UInt8(ascii: "\n"))
        sent.append(Sent(id: nextID, worker: worker))
        maxInFlight = max(maxInFlight, sent.count)
        if !reading { flush(context) }
        return true
    }

    private func flush(_ context: ChannelHandlerContext) {
        guard out.readableBytes > 0 else { return }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        out.clear()  // usually written already, so the storage is reused
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let promise = context.eventLoop.makePromise(of: Void.self)
        ready = promise
        greeted = promise.futureResult
        // A server that accepts but never greets (or never answers auth) must not hang the run.
        context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(5)) {
            if self.ready != nil, let context = self.context {
                self.fail("cairnd did not greet with hello and accept the token within 5 s", context: context)
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reading = true
        var buffer = unwrapInboundIn(data)
        if var carried = carry {
            carry = nil
            carried.writeBuffer(&buffer)
            buffer = carried
        }
        let used = buffer.withUnsafeReadableBytes { bytes -> Int in
            var start = 0
            while broken == nil, let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
                line(UnsafeRawBufferPointer(rebasing: bytes[start..<newline]), context: context)
                start = newline + 1
            }
            return start
        }
        buffer.moveReaderIndex(forwardBy: used)
        if broken == nil, buffer.readableBytes > 0 {
            if buffer.readableBytes > Self.maxLineBytes {
                fail("cairnd sent a line longer than \(Self.maxLineBytes) bytes", context: context)
            } else {
                carry = buffer
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        reading = false
        flush(context)
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail("the connection to cairnd closed", context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail("connection error: \(error)", context: context)
    }

    /// One line from cairnd.
    private func line(_ bytes: UnsafeRawBufferPointer, context: ChannelHandlerContext) {
        guard let answer = ResponseScan(bytes) else {
            return fail("cairnd sent a line that is not a JSON object: \(Self.excerpt(bytes))", context: context)
        }
        if answer.kind == .notification {
            if ready != nil, answer.isHello(bytes) { helloArrived() }
            return
        }
        // An error without id (a line cairnd could not read) answers the oldest request.
        guard let head = sent.first, answer.id == head.id || (answer.id == nil && answer.kind == .error) else {
            return fail(
                "cairnd's answer \(Self.excerpt(bytes)) does not match the oldest request (id \(sent.first.map { String($0.id) } ?? "none"))",
                context: context)
        }
        sent.removeFirst()
        if head.worker == Self.handshake {
            authenticated(answer, bytes)
        } else {
            receiver?.answered(head.worker, answer, bytes)
        }
    }

    private func helloArrived() {
        guard let token else {
            ready?.succeed()
            ready = nil
            return
        }
        // `auth` as its method value encodes it (no slots: the token is fixed).
        let auth: RequestTemplate
        do {
            auth = try RequestTemplate(RPC.Auth(token: token), slots: [])
        } catch {
            ready?.fail(error)
            ready = nil
            return
        }
        send(Self.handshake) { out in out.writeBytes(auth.parts[0]) }
    }

    private func authenticated(_ answer: ResponseScan, _ bytes: UnsafeRawBufferPointer) {
        if answer.kind == .result {
            ready?.succeed()
        } else {
            ready?.fail(BenchFailure("auth failed: \(Self.describeError(bytes))"))
        }
        ready = nil
    }

    private func fail(_ reason: String, context: ChannelHandlerContext) {
        guard broken == nil else { return }
        broken = reason
        ready?.fail(BenchFailure(reason))
        ready = nil
        let unanswered = sent
        sent.removeAll()
        for s in unanswered where s.worker != Self.handshake { receiver?.lost(s.worker, reason) }
        context.close(promise: nil)
    }

    /// An error answer as `CairnClient` would have thrown it (the slow path: errors only).
    static func describeError(_ line: UnsafeRawBufferPointer) -> String {
        guard let json = try? JSONValue(parsing: Array(line)), let error = json["error"] else { return excerpt(line) }
        return describe(RPCCoding.decodeError(error))
    }

    static func excerpt(_ line: UnsafeRawBufferPointer) -> String {
        let text = String(decoding: line.prefix(200), as: UTF8.self)
        return line.count > 200 ? text + "…" : text
    }
}

extension ResponseScan {
    /// Whether this notification is cairnd's `hello` (the slow check: once per connection).
    func isHello(_ line: UnsafeRawBufferPointer) -> Bool {
        (try? JSONValue(parsing: Array(line)))?["method"]?.stringValue == "hello"
    }
}
