import DequeModule
import Dispatch
import Foundation
import Synchronization

/// Automatic pipelining of single commands.
///
/// Each lane is a thread with its own hiredis connection. Requests from any number of tasks
/// queue up on a lane; the lane takes everything queued (up to `maxBatch`), writes it in one go,
/// reads all the replies, and hands each to its caller. Under load many requests share one
/// write and one read — how Redis clients reach Redis's own throughput — and when idle a request
/// costs one round trip as usual.
///
/// Only for commands that are safe to send again (reads, `PING`, `EXISTS`…): when the first
/// batch on a connection that had been idle fails because the socket went stale (Redis
/// restarted), the batch is sent once more on a fresh connection. Transactions need a connection
/// of their own: use `RedisPool.withConnection`.
public final class RedisPipeline: Sendable {
    typealias Waiter = CheckedContinuation<RedisValue, any Error>

    final class Lane: Sendable {
        let configuration: RedisConfiguration
        let maxBatch: Int
        private let queue = Mutex<(pending: Deque<(RedisCommand, Waiter)>, stopped: Bool)>((Deque(), false))
        private let wake = DispatchSemaphore(value: 0)

        init(configuration: RedisConfiguration, maxBatch: Int, name: String) {
            self.configuration = configuration
            self.maxBatch = maxBatch
            let thread = Thread { [self] in self.loop() }
            thread.name = name
            thread.start()
        }

        func enqueue(_ command: RedisCommand, _ waiter: Waiter) {
            let queued = queue.withLock { q -> Int? in
                guard !q.stopped else { return nil }
                q.pending.append((command, waiter))
                return q.pending.count
            }
            switch queued {
            case nil: waiter.resume(throwing: RedisError(.connection, "the Redis pipeline is shut down"))
            case 1: wake.signal()  // the queue was empty: the lane may be asleep
            default: break  // the lane is awake and will take it with the rest
            }
        }

        func stop() {
            let left = queue.withLock { q in
                q.stopped = true
                defer { q.pending.removeAll() }
                return Array(q.pending)
            }
            for (_, waiter) in left { waiter.resume(throwing: RedisError(.connection, "the Redis pipeline is shut down")) }
            wake.signal()
        }

        private func loop() {
            let connection = RedisConnection(configuration: configuration)
            defer { connection.close() }
            while true {
                wake.wait()
                while true {
                    let (batch, stopped) = queue.withLock { q -> ([(RedisCommand, Waiter)], Bool) in
                        let n = min(q.pending.count, maxBatch)
                        let taken = Array(q.pending.prefix(n))
                        q.pending.removeFirst(n)
                        return (taken, q.stopped)
                    }
                    if stopped { return }
                    if batch.isEmpty { break }
                    run(batch, on: connection)
                }
            }
        }

        private func run(_ batch: [(RedisCommand, Waiter)], on connection: RedisConnection) {
            let commands = batch.map(\.0)
            do {
                let replies = try connection.retryingStaleSocket { try $0.pipeline(commands) }
                for ((_, waiter), reply) in zip(batch, replies) { waiter.resume(returning: reply) }
            } catch {
                for (_, waiter) in batch { waiter.resume(throwing: error) }
            }
        }
    }

    private let lanes: [Lane]
    private let next = Atomic<Int>(0)

    /// `lanes` threads and connections; each writes at most `maxBatch` commands at once.
    public init(configuration: RedisConfiguration, lanes: Int = 2, maxBatch: Int = 256) {
        self.lanes = (0..<max(1, lanes)).map {
            Lane(configuration: configuration, maxBatch: maxBatch, name: "cairn-redis-pipeline-\($0)")
        }
    }

    /// Sends one command through a lane and waits for its reply (an error reply is returned,
    /// not thrown).
    public func send(_ command: RedisCommand) async throws -> RedisValue {
        let lane = lanes[next.add(1, ordering: .relaxed).newValue % lanes.count]
        return try await withCheckedThrowingContinuation { lane.enqueue(command, $0) }
    }

    /// Stops the lanes; queued commands fail.
    public func shutdown() {
        for lane in lanes { lane.stop() }
    }
}
