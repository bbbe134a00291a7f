import CairnCore

/// Finds where a line's request ids are written, so that answers can repeat each id's exact
/// JSON text. Runs only over a line the JSON parser accepted, and only when an id's parsed
/// value may not give back its text (`RPCID.needsSentText`); on anything unexpected it finds
/// nothing rather than guess.
struct IDTokenScanner {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")

    /// The id member's value text in a line holding one request object.
    static func idText(inRequest line: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var scanner = IDTokenScanner(bytes: line)
        scanner.skipWhitespace()
        return scanner.idInObject().map { Array(line[$0]) }
    }

    /// Each entry's id text (nil for entries that are not objects or have none) in a line
    /// holding a batch.
    static func idTexts(inBatch line: UnsafeBufferPointer<UInt8>) -> [[UInt8]?] {
        var scanner = IDTokenScanner(bytes: line)
        scanner.skipWhitespace()
        guard scanner.peek == UInt8(ascii: "[") else { return [] }
        scanner.index += 1
        var texts: [[UInt8]?] = []
        while true {
            scanner.skipWhitespace()
            guard let b = scanner.peek, b != UInt8(ascii: "]") else { return texts }
            if b == UInt8(ascii: "{") {
                texts.append(scanner.idInObject().map { Array(line[$0]) })
            } else {
                scanner.skipValue()
                texts.append(nil)
            }
            scanner.skipWhitespace()
            guard scanner.peek == UInt8(ascii: ",") else { return texts }
            scanner.index += 1
        }
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    private var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while let b = peek, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { index += 1 }
    }

    /// The byte range of the value of the object's last member named `id` (the parser keeps
    /// the last of repeated members too). At an object's `{`; leaves the index after its `}`.
    private mutating func idInObject() -> Range<Int>? {
        guard peek == UInt8(ascii: "{") else { return nil }
        index += 1
        var found: Range<Int>?
        while true {
            skipWhitespace()
            guard let b = peek, b == Self.quote else {
                if peek == UInt8(ascii: "}") { index += 1 }
                return found
            }
            let key = skipString()
            skipWhitespace()
            guard peek == UInt8(ascii: ":") else { return nil }
            index += 1
            skipWhitespace()
            let start = index
            skipValue()
            if isID(key) { found = start..<index }
            skipWhitespace()
            guard peek == UInt8(ascii: ",") else {
                if peek == UInt8(ascii: "}") { index += 1 }
                return found
            }
            index += 1
        }
    }

    /// Whether a member name (its text, quotes included) is `id`, escapes decoded.
    private func isID(_ key: Range<Int>) -> Bool {
        let text = bytes[key]
        if text.elementsEqual(#""id""#.utf8) { return true }
        guard text.contains(Self.backslash), case .string(let name)? = try? JSONValue(parsing: Array(text)) else { return false }
        return name.utf8.elementsEqual("id".utf8)
    }

    /// Skips a string; answers its range, quotes included.
    @discardableResult
    private mutating func skipString() -> Range<Int> {
        let start = index
        index += 1
        while let b = peek {
            index += 1
            if b == Self.backslash {
                index += 1
            } else if b == Self.quote {
                break
            }
        }
        return start..<min(index, bytes.count)
    }

    /// Skips one value of any kind.
    private mutating func skipValue() {
        guard let first = peek else { return }
        switch first {
        case Self.quote:
            skipString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while let b = peek {
                if b == Self.quote {
                    skipString()
                    continue
                }
                index += 1
                if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") {
                    depth += 1
                } else if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 { return }
                }
            }
        default:  // a number or a literal: up to the next delimiter
            while let b = peek, !(b == UInt8(ascii: ",") || b == UInt8(ascii: "}") || b == UInt8(ascii: "]") || b == 0x20
                || b == 0x09 || b == 0x0A || b == 0x0D)
            {
                index += 1
            }
        }
    }
}
