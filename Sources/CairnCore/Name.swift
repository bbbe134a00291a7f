/// A name — tenant, task, role, key, block label, agent id, principal — whose identity is its
/// UTF-8 bytes.
///
/// `==`, `hash(into:)` and `<` look at the bytes only; no Unicode normalization happens
/// anywhere. `Name("\u{212A}raken") != Name("Kraken")` and `Name("\u{E9}") != Name("e\u{301}")`,
/// exactly as Redis keeps them apart. A `Name` is not validated by itself: the types that hold
/// names (`Namespace`, `Scope`) check lengths and characters when they are made.
public struct Name: Sendable, Hashable, Comparable, ExpressibleByStringLiteral, CustomStringConvertible,
    CustomDebugStringConvertible
{
    /// The text, to encode, show or send. Never compare these strings with `==`: compare `Name`s.
    public let string: String

    public init(_ string: String) { self.string = string }
    public init(stringLiteral value: String) { string = value }

    public var utf8: String.UTF8View { string.utf8 }

    public static func == (a: Name, b: Name) -> Bool { UTF8Bytes.equal(a.string, b.string) }
    public func hash(into hasher: inout Hasher) { UTF8Bytes.hash(string, into: &hasher) }
    /// Byte order (the same as Unicode code point order).
    public static func < (a: Name, b: Name) -> Bool { UTF8Bytes.precedes(a.string, b.string) }

    public var description: String { string }
    public var debugDescription: String { string.debugDescription }
}

extension Optional where Wrapped == Name {
    /// The optional name's text.
    public var string: String? { self?.string }
}
