import Cairn
import CairnRedis
import Synchronization

/// Whether a server can do its work right now: Redis answers a `PING` within a bounded time and
/// the change feed's pub/sub connection is up. Liveness (the process answers at all) needs no
/// check; readiness is what a load balancer or an orchestrator should route by.
public struct Readiness: Sendable, Hashable {
    /// Empty when ready; otherwise one line per thing that is wrong, as a person should read it.
    public var problems: [String]

    public var isReady: Bool { problems.isEmpty }

    public init(problems: [String]) { self.problems = problems }

    /// Checks `redis` with one `PING` (given up after `timeoutMilliseconds`) and `feed`'s
    /// listening state. The two checks say different things: Redis may answer while the
    /// pub/sub connection is still reconnecting, and then subscribers hear nothing.
    public static func check(redis: RedisPool, feed: ChangeFeed?, timeoutMilliseconds: Int = 2000) async -> Readiness {
        var problems: [String] = []
        if let failure = await ping(redis, timeoutMilliseconds: timeoutMilliseconds) {
            problems.append("redis at \(redis.configuration.host):\(redis.configuration.port): \(failure)")
        }
        if let feed, !feed.isListening {
            problems.append("the change feed is not listening to Redis (its pub/sub connection is down): subscribers would miss events")
        }
        return Readiness(problems: problems)
    }

    /// nil when Redis answered `PONG` in time, else what went wrong.
    static func ping(_ redis: RedisPool, timeoutMilliseconds: Int) async -> String? {
        // The first of the answer and the deadline wins; the loser's result is dropped. A plain
        // task group would wait for a `PING` stuck on a paused Redis, so the two run unstructured.
        let once = FirstAnswer()
        return await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            once.pending.withLock { $0 = continuation }
            let finish: @Sendable (String?) -> Void = { outcome in
                once.pending.withLock { pending in
                    pending?.resume(returning: outcome)
                    pending = nil
                }
            }
            // The PING itself ends at the pool's command timeout at the latest.
            let timer = Task {
                try? await Task.sleep(nanoseconds: UInt64(max(1, timeoutMilliseconds)) * 1_000_000)
                finish("no answer to PING within \(timeoutMilliseconds) ms")
            }
            Task {
                do {
                    let reply = try await redis.send(["PING"])
                    finish(reply.string == "PONG" ? nil : "answered PING with \(reply)")
                } catch {
                    finish("\(error)")
                }
                timer.cancel()
            }
        }
    }
}

/// The continuation of a check, resumed by whichever answer comes first.
private final class FirstAnswer: Sendable {
    let pending = Mutex<CheckedContinuation<String?, Never>?>(nil)
}

extension CairnServer {
    /// This server's readiness: its store's Redis and its change feed.
    public func readiness(timeoutMilliseconds: Int = 2000) async -> Readiness {
        await Readiness.check(redis: context.store.redis, feed: feed, timeoutMilliseconds: timeoutMilliseconds)
    }
}
