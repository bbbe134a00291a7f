import NIOCore

/// A task executor that runs jobs on one NIO event loop.
///
/// A connection's task prefers its channel's event loop, so everything it runs that is not
/// isolated to an actor — reading a line, decoding it, running the method, awaiting Redis over
/// `RedisAsyncClient` (whose connections for this loop live on it too), writing the answer —
/// happens on that one thread, with no hand-off to Swift's global executor and back. (Before,
/// `NIOAsyncChannel`'s `next()` and `write(_:)` and NIO's futures, being nonisolated functions
/// of modules without `NonisolatedNonsendingByDefault`, hopped to the global executor on every
/// call: two thread switches each, several per request.)
///
/// Nothing here blocks the loop: Redis is reached over SwiftNIO, and CPU-heavy work (search
/// matching) runs in child tasks on the global concurrent executor.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
