import OrderedCollections

/// The name of a JSON object member, identified by its UTF-8 bytes.
///
/// `{"\u{E9}":1,"e\u{301}":2}` has two members, because the two keys are different byte
/// strings (a `String`-keyed dictionary would merge them, since `String ==` uses canonical
/// equivalence). Keys that are the same bytes are the same member.
public struct JSONKey: Sendable, Hashable, Comparable, ExpressibleByStringLiteral, CustomStringConvertible,
    CustomDebugStringConvertible
{
    /// The key's text. Compare `JSONKey`s, never these strings.
    public let string: String

    public init(_ string: String) { self.string = string }
    public init(stringLiteral value: String) { string = value }

    public static func == (a: JSONKey, b: JSONKey) -> Bool { UTF8Bytes.equal(a.string, b.string) }
    public func hash(into hasher: inout Hasher) { UTF8Bytes.hash(string, into: &hasher) }
    public static func < (a: JSONKey, b: JSONKey) -> Bool { UTF8Bytes.precedes(a.string, b.string) }

    public var description: String { string }
    public var debugDescription: String { string.debugDescription }
}

/// The members of a JSON object, in the order they were written, keyed by bytes.
public typealias JSONObject = OrderedDictionary<JSONKey, JSONValue>

extension OrderedDictionary where Key == JSONKey {
    /// The member named `key` (compared by bytes), for call sites that hold a `String`.
    @inlinable
    public subscript(key: String) -> Value? {
        get { self[JSONKey(key)] }
        set { self[JSONKey(key)] = newValue }
    }

    /// Removes the member named `key` (compared by bytes).
    @inlinable
    @discardableResult
    public mutating func removeValue(forKey key: String) -> Value? { removeValue(forKey: JSONKey(key)) }
}
