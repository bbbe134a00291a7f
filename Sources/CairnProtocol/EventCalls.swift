import CairnCore
import OrderedCollections

// MARK: - Events: subscribe, unsubscribe

extension RPC {
    /// Subscribes to the writes in a scope; events arrive as `event` (or, coalesced, `events`)
    /// notifications tagged with the subscription's name.
    public struct Subscribe: RPCResultEncoding {
        public static let name = "subscribe"
        public static let paramNames: DeclaredParams = ["scope", "from", "include_values", "coalesce_ms"]
        /// The most a subscription may wait to gather events into one `events` notification.
        public static let maximumCoalesceMilliseconds = 60_000
        public var scope: Scope
        /// Replay the writes after this cursor first; nil: from now.
        public var from: Cursor?
        /// Send each event with the value its write left.
        public var includeValues: Bool
        /// 0: one `event` per write; more: `events` gathered for this long.
        public var coalesceMilliseconds: Int

        public init(_ scope: Scope, from: Cursor? = nil, includeValues: Bool = false, coalesceMilliseconds: Int = 0) {
            self.scope = scope
            self.from = from
            self.includeValues = includeValues
            self.coalesceMilliseconds = coalesceMilliseconds
        }

        public init(checked p: Params) throws(CairnError) {
            scope = try p.scope()
            from = try p.optionalString("from").map { text throws(CairnError) in try Self.cursor(text) }
            includeValues = try p.optionalBool("include_values") ?? false
            coalesceMilliseconds = try p.int("coalesce_ms", default: 0, in: 0...Self.maximumCoalesceMilliseconds)
        }

        /// `from`'s text as a cursor, or the server's error for it.
        public static func cursor(_ text: String) throws(CairnError) -> Cursor {
            guard let cursor = Cursor(text) else {
                throw CairnError.invalidParams("from", "from must be a cursor from an earlier event or subscribe answer")
            }
            return cursor
        }

        public var params: JSONObject {
            var o: JSONObject = ["scope": Wire.scope(scope)]
            o.include("from", from.map { .string($0.description) })
            o.include("include_values", includeValues, default: false, JSONValue.bool)
            o.include("coalesce_ms", coalesceMilliseconds, default: 0, JSONValue.int)
            return o
        }

        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> Subscribed {
            Subscribed(subscription: r["subscription"]?.stringValue ?? "", cursor: r["cursor"]?.stringValue ?? "")
        }

        public static func encodeResult(_ r: Subscribed) -> JSONValue {
            ["subscription": .string(r.subscription), "cursor": .string(r.cursor)]
        }
    }

    public struct Unsubscribe: RPCResultEncoding {
        public typealias Result = Void
        public static let name = "unsubscribe"
        public static let paramNames: DeclaredParams = ["subscription"]
        public var subscription: String

        public init(_ subscription: String) { self.subscription = subscription }
        public init(checked p: Params) throws(CairnError) { subscription = try p.string("subscription") }
        public var params: JSONObject { ["subscription": .string(subscription)] }
    }

    /// A position in the change stream as the wire writes it, `<milliseconds>-<sequence>`
    /// (the store's `StreamCursor`).
    public struct Cursor: Sendable, Hashable, CustomStringConvertible {
        public var milliseconds: UInt64
        public var sequence: UInt64

        public init(milliseconds: UInt64, sequence: UInt64) {
            self.milliseconds = milliseconds
            self.sequence = sequence
        }

        public init?(_ text: String) {
            let parts = text.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 2, let ms = UInt64(parts[0]), let seq = UInt64(parts[1]) else { return nil }
            milliseconds = ms
            sequence = seq
        }

        public var description: String { "\(milliseconds)-\(sequence)" }
    }
}

/// `subscribe`'s answer: the subscription's name on this connection, and the cursor it starts
/// after.
public struct Subscribed: Sendable, Hashable {
    public var subscription: String
    public var cursor: String

    public init(subscription: String, cursor: String) {
        self.subscription = subscription
        self.cursor = cursor
    }
}
