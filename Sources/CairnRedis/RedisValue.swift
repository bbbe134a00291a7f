/// One Redis reply, as a Swift value. Bulk strings are decoded as UTF-8 (Cairn only stores text).
public enum RedisValue: Sendable, Hashable {
    case string(String)
    case status(String)
    case integer(Int)
    case array([RedisValue])
    case null
    /// An error reply (`-ERR …`, `-WRONGTYPE …`). The connection stays usable.
    case error(String)
}

extension RedisValue {
    public var isNull: Bool { if case .null = self { true } else { false } }

    /// The reply as text: a bulk string or a status.
    public var string: String? {
        switch self {
        case .string(let s), .status(let s): s
        default: nil
        }
    }

    /// The reply as an integer: an integer reply, or a bulk string holding one.
    public var int: Int? {
        switch self {
        case .integer(let i): i
        case .string(let s): Int(s)
        default: nil
        }
    }

    public var array: [RedisValue]? { if case .array(let a) = self { a } else { nil } }

    /// A flat `[field, value, field, value…]` array (`HGETALL`, stream entries) as a dictionary.
    /// Keys compare as Swift `String`s (canonical equivalence), so only for fixed ASCII field names.
    public var fieldMap: [String: String]? {
        guard case .array(let a) = self else { return nil }
        var map: [String: String] = [:]
        map.reserveCapacity(a.count / 2)
        var i = 0
        while i + 1 < a.count {
            if let k = a[i].string, let v = a[i + 1].string ?? a[i + 1].int.map(String.init) { map[k] = v }
            i += 2
        }
        return map
    }

    /// Throws when the reply is an error reply; returns self otherwise.
    @discardableResult
    public func checked() throws(RedisError) -> RedisValue {
        if case .error(let message) = self { throw RedisError(.server, message) }
        return self
    }
}

/// A Redis command: its arguments, the command name first.
public struct RedisCommand: Sendable, Hashable, ExpressibleByArrayLiteral {
    public var arguments: [String]

    public init(_ arguments: [String]) { self.arguments = arguments }
    public init(_ arguments: String...) { self.arguments = arguments }
    public init(arrayLiteral elements: String...) { arguments = elements }

    public var name: String { arguments.first ?? "" }
}

extension RedisValue {
    /// The message of an error reply; nil for any other reply.
    public var errorMessage: String? { if case .error(let m) = self { m } else { nil } }
}
