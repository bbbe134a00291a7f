import Cairn
import CairnRedis

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
        // The first of the answer and the deadline wins and the other is cancelled: a PING stuck
        // on a paused Redis stops waiting at once when cancelled (its late reply is dropped), so
        // the group ends with the deadline.
        await withTaskGroup(of: String?.self) { group in
            group.addTask {
                do {
                    let reply = try await redis.send(["PING"])
                    return reply.string == "PONG" ? nil : "answered PING with \(reply)"
                } catch {
                    return "\(error)"
                }
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(max(1, timeoutMilliseconds)))
                return "no answer to PING within \(timeoutMilliseconds) ms"
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}

extension CairnServer {
    /// This server's readiness: its store's Redis and its change feed.
    public func readiness(timeoutMilliseconds: Int = 2000) async -> Readiness {
        await Readiness.check(redis: context.store.redis, feed: feed, timeoutMilliseconds: timeoutMilliseconds)
    }
}
