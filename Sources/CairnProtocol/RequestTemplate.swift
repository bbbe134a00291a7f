import CairnCore

/// One method value's request encoding after the id, cut at the values a caller fills in: for
/// a load generator that writes thousands of requests a second without building a `JSONValue`
/// for each, yet sends exactly the bytes the method's own encoding gives.
public struct RequestTemplate: Sendable {
    /// The bytes between the slots: one more than there are slots.
    public let parts: [[UInt8]]

    /// A string no real key or value holds: control characters are not allowed in keys.
    public static func stringMarker(_ name: String) -> String { "\u{1}\(name)\u{1}" }
    /// An integer no real version is.
    public static let intMarker = Int.min

    /// Encodes `method` (id 0) and cuts it where each of `slots`, encoded, appears, in order;
    /// each must appear exactly once.
    public init(_ method: some RPCMethod, slots: [JSONValue]) throws(CairnError) {
        var whole: [UInt8] = []
        method.request(id: 0, into: &whole)
        let idPrefix = Array(#"{"jsonrpc":"2.0","id":0"#.utf8)
        guard whole.starts(with: idPrefix) else {
            throw CairnError(.internalError, "\(type(of: method).name)'s request does not start with \(String(decoding: idPrefix, as: UTF8.self))")
        }
        var rest = whole[idPrefix.count...]
        var parts: [[UInt8]] = []
        for slot in slots {
            var marker: [UInt8] = []
            slot.write(to: &marker)
            let found = Self.ranges(of: marker, in: rest)
            guard found.count == 1, let range = found.first else {
                throw CairnError(.internalError, "\(type(of: method).name)'s request holds \(String(decoding: marker, as: UTF8.self)) \(found.count) times, not once")
            }
            parts.append(Array(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        parts.append(Array(rest))
        self.parts = parts
    }

    /// The whole request with `values` in the slots, in order (one per slot).
    public func request(id: Int, filling values: [JSONValue]) -> [UInt8] {
        precondition(values.count == parts.count - 1, "\(parts.count - 1) slots, \(values.count) values")
        var out = Array(#"{"jsonrpc":"2.0","id":"#.utf8) + Array(String(id).utf8)
        for (i, part) in parts.enumerated() {
            out += part
            if i < values.count { values[i].write(to: &out) }
        }
        return out
    }

    private static func ranges(of needle: [UInt8], in haystack: ArraySlice<UInt8>) -> [Range<Int>] {
        guard !needle.isEmpty, haystack.count >= needle.count else { return [] }
        var found: [Range<Int>] = []
        var i = haystack.startIndex
        while i <= haystack.endIndex - needle.count {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) {
                found.append(i..<(i + needle.count))
                i += needle.count
            } else {
                i += 1
            }
        }
        return found
    }
}
