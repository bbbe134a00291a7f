import NIOCore
import NIOEmbedded
import Testing

@testable import CairnRedis

/// The Redis connection's request/reply bookkeeping without Redis: first the state machine as a
/// value, then the channel handler that runs it on an `EmbeddedChannel` (time moved by hand).
@Suite struct RedisReplyQueueTests {
    @Test func repliesCompleteRequestsInOrderEachWithAllItsReplies() throws {
        var queue = RedisReplyQueue<Int>()
        let later = NIODeadline.uptimeNanoseconds(1_000)
        #expect(queue.enqueue(expected: 2, writes: false, promise: 1, deadline: later) == .write)
        #expect(queue.enqueue(expected: 1, writes: false, promise: 2, deadline: later) == .write)
        #expect(try queue.receive(.status("OK")) == .pending)
        #expect(try queue.receive(.integer(3)) == .answered(1, [.status("OK"), .integer(3)]))
        #expect(try queue.receive(.null) == .answered(2, [.null]))
        #expect(throws: RedisError.self) { try queue.receive(.status("OK")) }  // nobody asked
    }

    @Test func aRequestOfNoCommandsIsAnsweredAtOnce() {
        var queue = RedisReplyQueue<Int>()
        #expect(queue.enqueue(expected: 0, writes: false, promise: 1, deadline: .uptimeNanoseconds(0)) == .answerEmpty)
        #expect(queue.waiting.isEmpty)
    }

    @Test func aFailureFailsEveryWaiterWritesAsOutcomeUnknownAndLaterRequestsAtOnce() {
        var queue = RedisReplyQueue<Int>()
        let later = NIODeadline.uptimeNanoseconds(1_000)
        _ = queue.enqueue(expected: 1, writes: false, promise: 1, deadline: later)
        _ = queue.enqueue(expected: 3, writes: true, promise: 2, deadline: later)
        let failed = queue.failAll(RedisError(.connection, "gone"))
        #expect(failed.map(\.0) == [1, 2])
        #expect(failed[0].1.kind == .connection)
        #expect(failed[1].1.kind == .outcomeUnknown && failed[1].1.message.contains("outcome is unknown"))
        guard case .fail(let error) = queue.enqueue(expected: 1, writes: false, promise: 3, deadline: later) else {
            Issue.record("a request after the failure was not failed")
            return
        }
        #expect(error.message == "gone")  // the first failure, kept
    }

    @Test func theTimerLooksAtTheOldestRequest() throws {
        var queue = RedisReplyQueue<Int>()
        #expect(queue.check(now: .uptimeNanoseconds(0)) == .idle)
        _ = queue.enqueue(expected: 1, writes: false, promise: 1, deadline: .uptimeNanoseconds(100))
        _ = queue.enqueue(expected: 1, writes: false, promise: 2, deadline: .uptimeNanoseconds(200))
        #expect(queue.nextDeadline == .uptimeNanoseconds(100))
        #expect(queue.check(now: .uptimeNanoseconds(50)) == .rearm(.uptimeNanoseconds(100)))
        _ = try queue.receive(.null)  // the first is answered before its deadline
        #expect(queue.check(now: .uptimeNanoseconds(150)) == .rearm(.uptimeNanoseconds(200)))
        #expect(queue.check(now: .uptimeNanoseconds(200)) == .overdue)
    }
}

/// `RedisChannelHandler` on an `EmbeddedChannel`: the bytes it writes, the replies it reads.
@Suite struct RedisChannelHandlerTests {
    static func channel(timeout: TimeAmount = .seconds(5)) throws -> (EmbeddedChannel, RedisChannelEvents) {
        let events = RedisChannelEvents()
        let channel = EmbeddedChannel(handler: RedisChannelHandler(timeout: timeout, peer: "test", events: events))
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 6379)).wait()
        return (channel, events)
    }

    static func request(_ channel: EmbeddedChannel, _ commands: [RedisCommand], writes: Bool = false) -> EventLoopFuture<[RedisValue]> {
        let promise = channel.eventLoop.makePromise(of: [RedisValue].self)
        channel.write(RedisRequest(commands: commands, promise: promise, writes: writes), promise: nil)
        channel.embeddedEventLoop.run()  // the handler's own flush
        return promise.futureResult
    }

    static func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    @Test func commandsGoOutAsRESPAndRepliesComeBackSplitAnyhow() throws {
        let (channel, events) = try Self.channel()
        let answer = Self.request(channel, [["SET", "k", "v"], ["GET", "k"]])
        #expect(try Self.written(channel) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
        for piece in ["+O", "K\r\n$", "1\r\nv", "\r\n"] { try channel.writeInbound(ByteBuffer(string: piece)) }
        #expect(try answer.wait() == [.status("OK"), .string("v")])
        #expect(events.answers == 1)
        _ = try channel.finish()
    }

    @Test func aReplyNobodyAskedForClosesTheConnectionAndFailsTheRest() throws {
        let (channel, _) = try Self.channel()
        let answered = Self.request(channel, [["PING"]])
        let waiting = Self.request(channel, [["GET", "k"]])
        // Three replies to two requests: the third is nobody's.
        _ = try? channel.writeInbound(ByteBuffer(string: "+PONG\r\n$-1\r\n+OK\r\n"))
        #expect(try answered.wait() == [.status("PONG")])
        #expect(try waiting.wait() == [.null])
        #expect(!channel.isActive)
        // A request with half its replies when the connection fails: it fails too.
        let (second, _) = try Self.channel()
        let pending = Self.request(second, [["GET", "a"], ["GET", "b"]])
        _ = try? second.writeInbound(ByteBuffer(string: "$1\r\nx\r\n"))
        second.pipeline.fireErrorCaught(RedisError(.connection, "cut"))
        #expect { try pending.wait() } throws: { ($0 as? RedisError)?.kind == .connection }
        #expect(!second.isActive)
    }

    @Test func anUnansweredRequestTimesOutAndAWriteAmongThemIsOutcomeUnknown() throws {
        let (channel, events) = try Self.channel(timeout: .milliseconds(100))
        let read = Self.request(channel, [["GET", "k"]])
        let write = Self.request(channel, [["MULTI"], ["SET", "k", "v"], ["EXEC"]], writes: true)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(99))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(!channel.isActive && events.didTimeOut)
        #expect { try read.wait() } throws: { ($0 as? RedisError)?.kind == .connection && "\($0)".contains("did not answer within 100 ms") }
        #expect { try write.wait() } throws: { ($0 as? RedisError)?.kind == .outcomeUnknown }
    }

    @Test func aRequestOfNoCommandsWritesNothingAndIsAnswered() throws {
        let (channel, _) = try Self.channel()
        let answer = Self.request(channel, [])
        #expect(try answer.wait() == [])
        #expect(try Self.written(channel) == "")
        _ = try channel.finish()
    }
}
