import DequeModule
import NIOCore

/// The requests one Redis connection has written and not yet had answered, as a value: the
/// channel handler feeds it what happens (a request written, a reply read, the timer, a
/// failure) and does what it answers. Redis answers in order, so replies complete requests
/// front to back. `Promise` is whatever the handler completes (an `EventLoopPromise` there; any
/// value in a unit test).
struct RedisReplyQueue<Promise> {
    struct Waiting {
        var expected: Int
        var writes: Bool
        var replies: [RedisValue]
        var promise: Promise
        var deadline: NIODeadline
    }

    private(set) var waiting = Deque<Waiting>()
    /// Set once the connection failed: later requests fail at once with it.
    private(set) var failure: RedisError?

    enum Enqueued {
        /// Encode and write the commands.
        case write
        /// Nothing to write: complete the promise with no replies now.
        case answerEmpty
        /// The connection already failed: fail the promise with this.
        case fail(RedisError)
    }

    mutating func enqueue(expected: Int, writes: Bool, promise: Promise, deadline: NIODeadline) -> Enqueued {
        if let failure { return .fail(failure) }
        guard expected > 0 else { return .answerEmpty }
        var entry = Waiting(expected: expected, writes: writes, replies: [], promise: promise, deadline: deadline)
        entry.replies.reserveCapacity(expected)
        waiting.append(entry)
        return .write
    }

    enum Received {
        /// The reply belongs to a request that still waits for more.
        case pending
        /// The front request has all its replies.
        case answered(Promise, [RedisValue])
    }

    /// A reply read from the socket; an error when nobody asked for one.
    mutating func receive(_ reply: RedisValue) throws(RedisError) -> Received {
        guard !waiting.isEmpty else {
            throw RedisError(.unexpectedReply, "a reply nobody asked for: \(reply)")
        }
        waiting[waiting.startIndex].replies.append(reply)
        guard waiting[waiting.startIndex].replies.count == waiting[waiting.startIndex].expected else { return .pending }
        let done = waiting.removeFirst()
        return .answered(done.promise, done.replies)
    }

    /// The connection failed: every waiting request, with the error to fail it with. A request
    /// that may write and was written is `.outcomeUnknown` (it may have run); the rest get
    /// the cause. The first failure is kept for later requests.
    mutating func failAll(_ error: RedisError) -> [(Promise, RedisError)] {
        if failure == nil { failure = error }
        let cause = failure ?? error
        let failed = waiting
        waiting.removeAll()
        return failed.map { entry in
            (entry.promise, entry.writes ? RedisError(.outcomeUnknown, cause.message + "; the write was sent, its outcome is unknown") : cause)
        }
    }

    /// When the timer should next fire: the oldest request's deadline (nil: nothing waits).
    var nextDeadline: NIODeadline? { waiting.first?.deadline }

    enum TimerCheck: Equatable {
        /// Nothing waits any more.
        case idle
        /// The oldest request is overdue: the connection is to be closed.
        case overdue
        /// The oldest request is not due yet (the one the timer was set for was answered).
        case rearm(NIODeadline)
    }

    func check(now: NIODeadline) -> TimerCheck {
        guard let oldest = waiting.first else { return .idle }
        return oldest.deadline <= now ? .overdue : .rearm(oldest.deadline)
    }
}

extension RedisReplyQueue.Enqueued: Equatable {}
extension RedisReplyQueue.Received: Equatable where Promise: Equatable {}
