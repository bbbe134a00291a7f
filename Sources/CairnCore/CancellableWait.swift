import Synchronization

/// Waits for a callback-based operation to call back; a caller that is cancelled meanwhile
/// stops waiting at once and gets `cancelled()` instead. The operation itself goes on: its
/// late result is dropped, so whatever it holds (a reply, a lent connection) must be cleaned
/// up by the operation's owner, not by this waiter.
///
/// `start` is called once with the function that delivers the result; it may call it at once,
/// later, from any thread, and more than once (only the first call counts). The caller resumes
/// on its own executor (nonisolated(nonsending)): a caller on an event loop stays there.
public nonisolated(nonsending) func withCancellableWait<Value: Sendable>(
    cancelled: @escaping @Sendable () -> any Error,
    _ start: (@escaping @Sendable (Result<Value, any Error>) -> Void) -> Void
) async throws -> Value {
    let once = ResumeOnce<Value>()
    return try await withTaskCancellationHandler {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Value, any Error>) in
            once.install(continuation)
            start { once.resume(with: $0) }
        }
    } onCancel: {
        once.resume(with: .failure(cancelled()))
    }
}

/// A continuation resumed by whichever comes first: the result or the cancellation (which may
/// come before the continuation exists).
private final class ResumeOnce<Value: Sendable>: Sendable {
    private enum State {
        case empty
        case waiting(UnsafeContinuation<Value, any Error>)
        /// Came before the continuation was installed (cancelled before the wait began).
        case early(Result<Value, any Error>)
        case resumed
    }

    private let state = Mutex(State.empty)

    func install(_ continuation: UnsafeContinuation<Value, any Error>) {
        let early: Result<Value, any Error>? = state.withLock { state in
            guard case .early(let result) = state else {
                state = .waiting(continuation)
                return nil
            }
            state = .resumed
            return result
        }
        if let early { continuation.resume(with: early) }
    }

    func resume(with result: Result<Value, any Error>) {
        let waiting: UnsafeContinuation<Value, any Error>? = state.withLock { state in
            switch state {
            case .empty:
                state = .early(result)
                return nil
            case .waiting(let continuation):
                state = .resumed
                return continuation
            case .early, .resumed:
                return nil
            }
        }
        waiting?.resume(with: result)
    }
}
