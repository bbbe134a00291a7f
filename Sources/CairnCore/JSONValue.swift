import OrderedCollections

/// A JSON value. Objects keep their members in the order they were written, so a value
/// round-trips through Cairn exactly as the client sent it.
///
/// Strings and object keys compare and hash by their UTF-8 bytes (see `JSONKey`), never by
/// Unicode canonical equivalence: `.string("\u{E9}") != .string("e\u{301}")`.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// An integer that fits in 64 bits. Other numbers are `.double`.
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

extension JSONValue {
    public var isNull: Bool { if case .null = self { true } else { false } }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    public var objectValue: JSONObject? {
        if case .object(let o) = self { o } else { nil }
    }

    /// The value as an integer when it is an integral number (`3` or `3.0`).
    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9.0e18: return Int(d)
        default: return nil
        }
    }

    /// The value as a number, when it is one.
    public var numberValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    /// The member `key` of an object (compared by bytes), or nil.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[JSONKey(key)] }
        return nil
    }

    /// The member `key` of an object, or nil.
    public subscript(key: JSONKey) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// Every string leaf of the value, depth first (object keys are not included).
    public func forEachString(_ body: (String) -> Void) {
        switch self {
        case .string(let s): body(s)
        case .array(let a): for v in a { v.forEachString(body) }
        case .object(let o): for v in o.values { v.forEachString(body) }
        default: break
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (JSONKey, JSONValue)...) {
        var o = JSONObject()
        for (k, v) in elements { o[k] = v }
        self = .object(o)
    }
}

extension JSONValue {
    /// Equality as stored: strings and keys by bytes, objects member by member in order,
    /// numbers of the same case by value.
    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case let (.bool(x), .bool(y)): x == y
        case let (.int(x), .int(y)): x == y
        case let (.double(x), .double(y)): x == y
        case let (.string(x), .string(y)): UTF8Bytes.equal(x, y)
        case let (.array(x), .array(y)): x == y
        case let (.object(x), .object(y)): x == y
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let b): hasher.combine(1); hasher.combine(b)
        case .int(let i): hasher.combine(2); hasher.combine(i)
        case .double(let d): hasher.combine(3); hasher.combine(d)
        case .string(let s): hasher.combine(4); UTF8Bytes.hash(s, into: &hasher)
        case .array(let a): hasher.combine(5); hasher.combine(a)
        case .object(let o): hasher.combine(6); hasher.combine(o)
        }
    }
}

extension JSONValue: CustomStringConvertible {
    /// The compact JSON text of the value.
    public var description: String { serialized() }
}
