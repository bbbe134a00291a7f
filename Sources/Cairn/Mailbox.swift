import DequeModule
import Synchronization

/// A bounded queue with one asynchronous reader. Writers never wait: `push` answers `full` when
/// the queue holds `capacity` elements or `maxBytes` bytes, `overBudget` when the bytes do not
/// fit the shared `FeedBudget`, and the owner decides what to do (Cairn drops a live
/// subscription with a `resync`, and a catching-up one waits until the reader made room), so a
/// slow reader can never grow memory without bound.
///
/// Bytes are what `weigh` says an element holds; they are taken from the budget when an element
/// is queued and given back when it leaves the queue (read, drained, thrown away, or the mailbox
/// is freed). An element handed straight to a waiting reader is never counted.
final class Mailbox<Element: Sendable>: Sendable {
    private struct State {
        var queue = Deque<Element>()
        var bytes = 0
        /// The longest the queue has been since it was last empty: a queue that grew long gets
        /// fresh storage once it is empty again, so a burst does not pin its memory.
        var peak = 0
        var waiter: CheckedContinuation<Element?, Never>?
        var finished = false
        /// The writer is waiting for room (see `wantsRoom`).
        var roomWanted = false
    }

    let capacity: Int
    let maxBytes: Int
    private let budget: FeedBudget?
    private let weigh: @Sendable (Element) -> Int
    private let onRoom: @Sendable () -> Void
    private let state = Mutex(State())

    /// `onRoom` is called (outside the lock) when the reader made room after `wantsRoom` said no.
    init(
        capacity: Int, maxBytes: Int = .max, budget: FeedBudget? = nil, weigh: @escaping @Sendable (Element) -> Int = { _ in 0 },
        onRoom: @escaping @Sendable () -> Void = {}
    ) {
        self.capacity = capacity
        self.maxBytes = maxBytes
        self.budget = budget
        self.weigh = weigh
        self.onRoom = onRoom
    }

    deinit {
        let left = state.withLock { $0.bytes }
        budget?.release(left)
    }

    enum PushResult { case accepted, full, overBudget, closed }
    private enum PushOutcome { case handOver(CheckedContinuation<Element?, Never>), result(PushResult) }

    /// Adds `element`, handing it straight to a waiting reader when there is one. Anything but
    /// `accepted` adds nothing.
    func push(_ element: Element) -> PushResult {
        let outcome: PushOutcome = state.withLock { s in
            if s.finished { return .result(.closed) }
            if let w = s.waiter {
                s.waiter = nil
                return .handOver(w)
            }
            return .result(enqueue(element, &s))
        }
        switch outcome {
        case .handOver(let waiter):
            waiter.resume(returning: element)
            return .accepted
        case .result(let result): return result
        }
    }

    /// Adds `elements` in order until one does not fit (or the mailbox is closed); answers how
    /// many were added and why it stopped (`accepted` when all were). The first may go straight
    /// to a waiting reader; the rest are queued under one lock, so the reader finds them together.
    func push(contentsOf elements: some Collection<Element>) -> (added: Int, stop: PushResult) {
        guard let first = elements.first else { return (0, .accepted) }
        var waiter: CheckedContinuation<Element?, Never>?
        let result: (Int, PushResult) = state.withLock { s in
            if s.finished { return (0, .closed) }
            var added = 0
            for element in elements {
                if added == 0, let w = s.waiter {
                    s.waiter = nil
                    waiter = w
                    added = 1
                    continue
                }
                let r = enqueue(element, &s)
                guard r == .accepted else { return (added, r) }
                added += 1
            }
            return (added, .accepted)
        }
        waiter?.resume(returning: first)
        return result
    }

    private func enqueue(_ element: Element, _ s: inout State) -> PushResult {
        let size = weigh(element)
        if s.queue.count >= capacity || s.bytes + size > maxBytes { return .full }
        if let budget, !budget.take(size) { return .overBudget }
        s.queue.append(element)
        s.bytes += size
        s.peak = max(s.peak, s.queue.count)
        return .accepted
    }

    /// Free places in the queue right now.
    var room: Int { state.withLock { capacity - $0.queue.count } }

    /// Whether at least half the queue is free (in elements and bytes). When it is not, `onRoom`
    /// is called once the reader has emptied it to that point.
    func wantsRoom() -> Bool {
        state.withLock { s in
            if hasRoom(s) { return true }
            s.roomWanted = true
            return false
        }
    }

    private func hasRoom(_ s: State) -> Bool {
        s.queue.count <= capacity / 2 && (maxBytes == .max || s.bytes <= maxBytes / 2)
    }

    /// After elements left the queue: gives their bytes back, frees the storage of a long queue
    /// that is now empty, and says whether the writer waits for room that is now there.
    private func removed(bytes: Int, _ s: inout State) -> Bool {
        s.bytes -= bytes
        budget?.release(bytes)
        if s.queue.isEmpty {
            if s.peak > 256 { s.queue = Deque() }
            s.peak = 0
        }
        guard s.roomWanted, hasRoom(s) else { return false }
        s.roomWanted = false
        return true
    }

    /// Throws away everything queued, queues `last` alone and finishes: the reader gets `last`,
    /// then the end.
    func replaceAll(with last: Element) {
        let waiter: CheckedContinuation<Element?, Never>? = state.withLock { s in
            guard !s.finished else { return nil }
            s.finished = true
            budget?.release(s.bytes)
            s.bytes = 0
            s.queue = Deque()
            s.peak = 0
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.queue.append(last)
            // Counted like any queued element, so that taking it out balances.
            s.bytes = weigh(last)
            budget?.charge(s.bytes)
            return nil
        }
        waiter?.resume(returning: last)
    }

    /// No more elements: the reader gets what is queued, then nil.
    func finish() {
        let waiter: CheckedContinuation<Element?, Never>? = state.withLock { s in
            s.finished = true
            guard s.queue.isEmpty, let w = s.waiter else { return nil }
            s.waiter = nil
            return w
        }
        waiter?.resume(returning: nil)
    }

    var isFinished: Bool { state.withLock { $0.finished } }
    var count: Int { state.withLock { $0.queue.count } }
    /// Bytes queued right now (by `weigh`).
    var bytes: Int { state.withLock { $0.bytes } }

    /// The next element, waiting for one; nil once finished and empty (or when the task is
    /// cancelled).
    func next() async -> Element? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Element?, Never>) in
                var signal = false
                let ready: Element?? = state.withLock { s in
                    if let e = s.queue.popFirst() {
                        signal = removed(bytes: weigh(e), &s)
                        return .some(e)
                    }
                    if s.finished || Task.isCancelled { return .some(nil) }
                    s.waiter = continuation
                    return .none
                }
                if signal { onRoom() }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter: CheckedContinuation<Element?, Never>? = state.withLock { s in
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    /// Up to `limit` queued elements, oldest first, without waiting.
    func drain(limit: Int = .max) -> [Element] {
        var signal = false
        let taken: [Element] = state.withLock { s in
            let n = min(limit, s.queue.count)
            guard n > 0 else { return [] }
            let out = Array(s.queue.prefix(n))
            s.queue.removeFirst(n)
            signal = removed(bytes: out.reduce(0) { $0 + weigh($1) }, &s)
            return out
        }
        if signal { onRoom() }
        return taken
    }
}
