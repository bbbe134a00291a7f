import DequeModule
import Synchronization

/// A bounded queue with one asynchronous reader. Writers never wait: `push` answers false when
/// the queue is full, and the owner decides what to do (Cairn drops the subscription with a
/// `resync`, so a slow reader can never grow memory without bound).
final class Mailbox<Element: Sendable>: Sendable {
    private struct State {
        var queue = Deque<Element>()
        var waiter: CheckedContinuation<Element?, Never>?
        var finished = false
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) { self.capacity = capacity }

    enum PushResult { case accepted, full, closed }
    private enum PushOutcome { case handOver(CheckedContinuation<Element?, Never>), queued, full, closed }

    /// Adds `element`, handing it straight to a waiting reader when there is one. `full` and
    /// `closed` add nothing.
    func push(_ element: Element) -> PushResult {
        let outcome: PushOutcome = state.withLock { s in
            if s.finished { return .closed }
            if let w = s.waiter {
                s.waiter = nil
                return .handOver(w)
            }
            if s.queue.count >= capacity { return .full }
            s.queue.append(element)
            return .queued
        }
        switch outcome {
        case .handOver(let waiter):
            waiter.resume(returning: element)
            return .accepted
        case .queued: return .accepted
        case .full: return .full
        case .closed: return .closed
        }
    }

    /// Throws away everything queued, queues `last` alone and finishes: the reader gets `last`,
    /// then the end.
    func replaceAll(with last: Element) {
        let waiter: CheckedContinuation<Element?, Never>? = state.withLock { s in
            guard !s.finished else { return nil }
            s.finished = true
            s.queue.removeAll()
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.queue.append(last)
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

    /// The next element, waiting for one; nil once finished and empty (or when the task is
    /// cancelled).
    func next() async -> Element? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Element?, Never>) in
                let ready: Element?? = state.withLock { s in
                    if let e = s.queue.popFirst() { return .some(e) }
                    if s.finished || Task.isCancelled { return .some(nil) }
                    s.waiter = continuation
                    return .none
                }
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

    /// Everything queued right now, without waiting.
    func drain() -> [Element] {
        state.withLock { s in
            let all = Array(s.queue)
            s.queue.removeAll()
            return all
        }
    }
}
