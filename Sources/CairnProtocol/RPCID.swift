import CairnCore

/// A request id exactly as the client wrote it. Answers carry its JSON text byte for byte, so
/// `-9223372036854775809`, `1.5`, `1e-400` or `"\u0078"` come back as sent, whatever a JSON
/// library would make of them.
public struct RPCID: Sendable, Hashable, CustomStringConvertible {
    /// The id as parsed: a number, a string, or null.
    public let value: JSONValue
    /// The id's JSON text as sent; nil when `value` serializes to exactly that text.
    private let sentText: [UInt8]?

    /// The id `null` (of answers to lines that carry no usable id).
    public static let null = RPCID(value: .null, sentText: nil)

    init(value: JSONValue, sentText: [UInt8]?) {
        self.value = value
        self.sentText = sentText
    }

    /// An id the server chooses (its serialization is its text).
    public init(_ value: JSONValue) {
        self.init(value: value, sentText: nil)
    }

    /// Whether the text of `value` alone may differ from what a client wrote: a nonzero
    /// integer and null have one JSON spelling; `0` may have been `-0`, a string may have held
    /// escapes, and other numbers have many spellings.
    static func needsSentText(_ value: JSONValue) -> Bool {
        switch value {
        case .null: false
        case .int(let i): i == 0
        default: true
        }
    }

    public func write(to out: inout [UInt8]) {
        if let sentText { out.append(contentsOf: sentText) } else { value.write(to: &out) }
    }

    /// The JSON text as it goes on the wire.
    public var description: String {
        var out: [UInt8] = []
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
