import NIOCore

extension EventLoopFuture where Value: Sendable {
    /// The future's value, awaited without leaving the caller's executor.
    ///
    /// `EventLoopFuture.get()` is a nonisolated async function of a module built without
    /// `NonisolatedNonsendingByDefault`, so awaiting it hops to Swift's global executor and back:
    /// two thread switches per Redis command for a caller on an event loop. Here the
    /// continuation inherits the caller's isolation, and the future's callback resumes the
    /// caller directly (on the same loop when the caller runs on it).
    func valueOnCaller() async throws -> Value {
        try await withUnsafeThrowingContinuation { continuation in
            whenComplete { continuation.resume(with: $0) }
        }
    }
}
