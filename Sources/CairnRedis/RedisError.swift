/// A failure in the Redis layer.
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// Redis could not be reached, or the connection broke (I/O error, timeout, Redis
        /// restarted) while nothing that writes was outstanding on it: no write was sent, or the
        /// commands were reads. The connection is replaced.
        case connection
        /// Commands that write (a `MULTI`…`EXEC`) were handed to the socket, and the
        /// connection broke or timed out before their replies came: Redis may or may not have
        /// run them. The connection is replaced.
        case outcomeUnknown
        /// Redis answered with an error reply.
        case server
        /// The configuration (URL, pool size) is not usable.
        case configuration
        /// A reply did not have the expected shape.
        case unexpectedReply
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// The outcome of a `MULTI`/`EXEC` transaction.
public enum TransactionOutcome: Sendable, Hashable {
    /// `EXEC` ran the commands; one reply per queued command.
    case committed([RedisValue])
    /// A `WATCH`ed key changed before `EXEC`: nothing was written.
    case aborted
}

extension TransactionOutcome {
    /// `MULTI`, the commands, `EXEC`: what a transaction sends in one round trip.
    static func commands(wrapping commands: [RedisCommand]) -> [RedisCommand] {
        var all: [RedisCommand] = [["MULTI"]]
        all.reserveCapacity(commands.count + 2)
        all.append(contentsOf: commands)
        all.append(["EXEC"])
        return all
    }

    /// Reads the replies to `commands(wrapping:)`.
    init(replies: [RedisValue]) throws(RedisError) {
        switch replies.last {
        case .null?: self = .aborted
        case .array(let results)?: self = .committed(results)
        case .error(let message)?:
            let queued = replies.dropFirst().dropLast().first { $0.errorMessage != nil }
            throw RedisError(.server, "transaction refused: \(queued?.errorMessage ?? message)")
        default:
            throw RedisError(.unexpectedReply, "EXEC answered \(replies.last.map { "\($0)" } ?? "nothing")")
        }
    }
}
