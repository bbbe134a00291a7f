import NIOCore
import Synchronization

/// Commands for one Redis connection, answered together: `promise` gets one reply per command
/// (error replies included) once the last has arrived, or fails when the connection does.
struct RedisRequest {
    var commands: [RedisCommand]
    var promise: EventLoopPromise<[RedisValue]>?
    /// Whether the commands may write: once they are handed to the socket, a broken connection
    /// fails them with `.outcomeUnknown` instead of `.connection`.
    var writes = false
}

/// The Redis protocol on a NIO channel: encodes each `RedisRequest` into RESP, parses the reply
/// stream with hiredis's reader, and completes requests in the order they were written (Redis
/// answers in order). Writes are flushed by the handler itself, once per turn of the event loop.
/// A request unanswered after `timeout` closes the connection, failing every
/// request on it; so does a reply nobody asked for, or bytes that are not RESP.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    /// What is written and not yet answered (the state machine; this class does its actions).
    private var queue = RedisReplyQueue<EventLoopPromise<[RedisValue]>?>()
    private let reader = RedisReplyReader()
    private let timeout: TimeAmount
    private let peer: String
    private let events: RedisChannelEvents
    private var timer: Scheduled<Void>?
    /// Whether a flush is queued on the event loop already.
    private var flushQueued = false
    /// On a pub/sub connection, gets each message Redis pushes; false when it cannot take it
    /// (its buffer is full), which closes the connection: the subscriber re-subscribes and its
    /// owner re-reads what it may have missed, as after any other break.
    private let onPush: (@Sendable (RedisPush) -> Bool)?

    init(timeout: TimeAmount, peer: String, events: RedisChannelEvents, onPush: (@Sendable (RedisPush) -> Bool)? = nil) {
        self.timeout = timeout
        self.peer = peer
        self.events = events
        self.onPush = onPush
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        switch queue.enqueue(expected: request.commands.count, writes: request.writes, promise: request.promise, deadline: context.eventLoop.now + timeout) {
        case .fail(let failure):
            request.promise?.fail(failure)
            promise?.fail(failure)
            return
        case .answerEmpty:
            request.promise?.succeed([])
            promise?.succeed(())
            return
        case .write:
            break
        }
        var buffer = context.channel.allocator.buffer(capacity: ByteBuffer.estimatedRESPSize(request.commands))
        for command in request.commands { buffer.writeRESP(command) }
        armTimer(context)
        context.write(wrapOutboundOut(buffer), promise: promise)
        queueFlush(context)
    }

    /// Flushes once the loop has run what is queued now: the commands that callers on this loop
    /// write meanwhile (requests that came in the same read from many clients) leave together,
    /// in one system call.
    private func queueFlush(_ context: ChannelHandlerContext) {
        guard !flushQueued else { return }
        flushQueued = true
        context.eventLoop.assumeIsolated().execute { [self] in
            flushQueued = false
            context.flush()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do throws(RedisError) {
            try reader.feed(unwrapInboundIn(data))
            while let reply = try reader.next() {
                if let onPush, let push = RedisPush(pushed: reply) {
                    guard onPush(push) else {
                        throw RedisError(.connection, "the subscriber of Redis at \(peer) fell behind its messages")
                    }
                    continue
                }
                let received: RedisReplyQueue<EventLoopPromise<[RedisValue]>?>.Received
                do {
                    received = try queue.receive(reply)
                } catch {
                    throw RedisError(error.kind, "Redis at \(peer) sent \(error.message)")
                }
                if case .answered(let promise, let replies) = received {
                    events.answered()
                    promise?.succeed(replies)
                }
            }
        } catch {
            fail(context, error)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisError(.connection, "lost the connection to Redis at \(peer): the server closed it"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context, RedisError(.connection, "lost the connection to Redis at \(peer): \(error)"))
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        failAll(RedisError(.connection, "the connection to Redis at \(peer) is closed"))
    }

    private func fail(_ context: ChannelHandlerContext, _ error: RedisError) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisError) {
        timer?.cancel()
        timer = nil
        for (promise, error) in queue.failAll(error) { promise?.fail(error) }
    }

    /// One timer per connection, due when the oldest request is.
    private func armTimer(_ context: ChannelHandlerContext) {
        guard timer == nil, let deadline = queue.nextDeadline else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            switch queue.check(now: context.eventLoop.now) {
            case .idle:
                return
            case .overdue:
                events.timedOut()
                fail(context, RedisError(.connection, "Redis at \(peer) did not answer within \(timeout.nanoseconds / 1_000_000) ms"))
            case .rearm:
                armTimer(context)
            }
        }
    }
}

/// What a channel handler tells its connection object, from the event loop.
final class RedisChannelEvents: Sendable {
    private let answerCount = Atomic<Int>(0)
    private let timeoutSeen = Atomic<Bool>(false)

    /// Requests answered so far.
    var answers: Int { answerCount.load(ordering: .relaxed) }
    /// Whether the connection was closed because Redis did not answer in time.
    var didTimeOut: Bool { timeoutSeen.load(ordering: .relaxed) }

    func answered() { answerCount.add(1, ordering: .relaxed) }
    func timedOut() { timeoutSeen.store(true, ordering: .relaxed) }
}
