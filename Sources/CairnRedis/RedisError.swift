/// A failure in the Redis layer.
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// Redis could not be reached, or the connection broke (I/O error, timeout, Redis
        /// restarted). Whether a command sent on it ran is unknown. The connection is replaced.
        case connection
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
