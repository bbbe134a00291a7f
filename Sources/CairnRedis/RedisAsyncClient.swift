import NIOCore
import NIOPosix
import Synchronization

/// Redis over SwiftNIO, on the caller's own event loop.
///
/// Each event loop of `group` gets its own connections (see `RedisLoopConnections`). A caller
/// running on one of those loops — a cairnd connection's requests do — uses that loop's
/// connections, so sending a command, waiting for Redis and resuming all happen on one thread
/// with no hand-off; commands from the loop's many callers are pipelined onto one socket and
/// written together. A caller elsewhere uses the loops in turn.
public final class RedisAsyncClient: Sendable {
    public let configuration: RedisConfiguration
    private let loops: [RedisLoopConnections]
    private let byLoop: [ObjectIdentifier: RedisLoopConnections]
    private let next = Atomic<Int>(0)

    /// `exclusivePerLoop`: connections each loop may lend out at once for transactions.
    public init(configuration: RedisConfiguration, group: any EventLoopGroup, exclusivePerLoop: Int) {
        self.configuration = configuration
        var loops: [RedisLoopConnections] = []
        var byLoop: [ObjectIdentifier: RedisLoopConnections] = [:]
        for loop in group.makeIterator() {
            let connections = RedisLoopConnections(loop: loop, configuration: configuration, maxExclusive: exclusivePerLoop)
            loops.append(connections)
            byLoop[ObjectIdentifier(loop)] = connections
        }
        precondition(!loops.isEmpty, "an event loop group has at least one loop")
        self.loops = loops
        self.byLoop = byLoop
    }

    /// The current loop's connections, or the next loop's when the caller is on none of them.
    private func local() -> RedisLoopConnections {
        if let current = MultiThreadedEventLoopGroup.currentEventLoop, let connections = byLoop[ObjectIdentifier(current)] {
            return connections
        }
        return loops[next.add(1, ordering: .relaxed).newValue % loops.count]
    }

    /// One command on the loop's shared connection, pipelined with everyone else's. Only for
    /// commands that are safe to send twice (reads, `PING`, `CONFIG`): when the shared
    /// connection broke under the command (Redis restarted), it is sent once more on a new one.
    /// An error reply is returned, not thrown.
    public func send(_ command: RedisCommand) async throws(RedisError) -> RedisValue {
        let connections = local()
        let connection = try await connections.shared()
        do {
            return try await connection.send(command)
        } catch where error.kind == .connection && !connection.events.didTimeOut && !Task.isCancelled {
            return try await connections.shared().send(command)
        }
    }

    /// Runs `body` with a connection of its own (for `WATCH` … `EXEC`), on the caller's loop.
    ///
    /// When the connection had been used before and broke before answering anything in
    /// `body` — a socket left stale by a Redis restart — `body` runs once more on a new one:
    /// bodies must therefore begin with commands that change nothing (`WATCH`, reads). A body
    /// must leave the connection as it found it (no `WATCH` left, no `MULTI` open); one that
    /// throws a `RedisError` of kind `.connection` loses its connection.
    public func withConnection<T: Sendable>(_ body: (RedisChannelConnection) async throws -> T) async throws -> T {
        let connections = local()
        var attempt = 0
        while true {
            attempt += 1
            let lent = try await connections.acquire()
            if Task.isCancelled {
                // Cancelled while the connection was being opened: give it back unused.
                connections.release(lent, reusable: true)
                throw RedisError(.connection, "cancelled while waiting for a Redis connection")
            }
            let answersBefore = lent.connection.events.answers
            do {
                let result = try await body(lent.connection)
                connections.release(lent, reusable: true)
                return result
            } catch let error as RedisError where error.kind == .outcomeUnknown {
                connections.release(lent, reusable: false)
                throw error  // never run again: the write may have landed
            } catch let error as RedisError where error.kind == .connection {
                connections.release(lent, reusable: false)
                let stale = lent.reused && lent.connection.events.answers == answersBefore && !lent.connection.events.didTimeOut
                // A cancelled caller is not a stale socket: no second run.
                if attempt == 1 && stale && !Task.isCancelled { continue }
                throw error
            } catch {
                connections.release(lent, reusable: true)
                throw error
            }
        }
    }

    /// Closes every connection; later calls fail with `.connection`.
    public func shutdown() async {
        for connections in loops { await connections.shutdown() }
    }
}
