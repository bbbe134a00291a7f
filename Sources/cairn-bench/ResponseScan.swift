/// What the line driver needs to know of one line from cairnd, found by walking its top-level
/// object once without building any value: the id, whether it is a result, an error or a
/// notification, and of a result whether it is `null` and its top-level `version`.
///
/// Member names are compared as written (cairnd never escapes the plain ASCII names looked
/// for); values are skipped structurally (strings with their escapes, nested objects and arrays).
/// A line that is not one JSON object scans as nil.
struct ResponseScan: Equatable, Sendable {
    enum Kind: Equatable, Sendable {
        /// Has `result`.
        case result
        /// Has `error`.
        case error
        /// Has `method` and no `id`: a server notification (`hello`, `event`, …).
        case notification
        /// None of those (not an answer cairnd sends).
        case other
    }

    var kind: Kind = .other
    /// The integer `id`; nil when absent, `null` or not an integer.
    var id: Int?
    /// `"result":null` (get of an absent item).
    var resultIsNull = false
    /// The result object's own integer `version` member.
    var version: Int?

    /// Scans `line` (without its newline; a trailing `\r` is allowed).
    init?(_ line: UnsafeRawBufferPointer) {
        var s = Scanner(bytes: line)
        var hasMethod = false, hasID = false, hasResult = false, hasError = false
        guard s.take(UInt8(ascii: "{")) else { return nil }
        if !s.take(UInt8(ascii: "}")) {
            repeat {
                guard let name = s.memberName() else { return nil }
                switch name {
                case .id:
                    hasID = true
                    let value = s.i
                    if let id = s.integer() {
                        self.id = id
                    } else {
                        s.i = value  // null, or not an integer: no id to match
                        guard s.skipValue() else { return nil }
                    }
                case .result:
                    hasResult = true
                    switch s.peek {
                    case UInt8(ascii: "n"):
                        guard s.literal("null") else { return nil }
                        resultIsNull = true
                    case UInt8(ascii: "{"):
                        guard s.object(version: &version) else { return nil }
                    default:
                        guard s.skipValue() else { return nil }
                    }
                case .error:
                    hasError = true
                    guard s.skipValue() else { return nil }
                case .method:
                    hasMethod = true
                    guard s.skipValue() else { return nil }
                case .other:
                    guard s.skipValue() else { return nil }
                }
            } while s.take(UInt8(ascii: ","))
            guard s.take(UInt8(ascii: "}")) else { return nil }
        }
        guard s.atEnd else { return nil }
        if hasError {
            kind = .error
        } else if hasResult {
            kind = .result
        } else if hasMethod && !hasID {
            kind = .notification
        }
    }

    /// Scans the bytes of an array (the `scan` command).
    init?(_ bytes: [UInt8]) {
        guard let scan = bytes.withUnsafeBytes({ ResponseScan($0) }) else { return nil }
        self = scan
    }
}

/// A cursor over one line's bytes. Whitespace between tokens is skipped, as JSON allows.
private struct Scanner {
    enum Name { case id, result, error, method, other }

    let bytes: UnsafeRawBufferPointer
    var i = 0

    init(bytes: UnsafeRawBufferPointer) {
        var end = bytes.count
        if end > 0, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        self.bytes = UnsafeRawBufferPointer(rebasing: bytes[0..<end])
    }

    var atEnd: Bool {
        mutating get {
            skipSpace()
            return i == bytes.count
        }
    }

    /// The next significant byte, or 0 at the end.
    var peek: UInt8 {
        mutating get {
            skipSpace()
            return i < bytes.count ? bytes[i] : 0
        }
    }

    mutating func skipSpace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    /// Consumes `byte` when it is next.
    mutating func take(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        i += 1
        return true
    }

    mutating func literal(_ text: StaticString) -> Bool {
        skipSpace()
        let n = text.utf8CodeUnitCount
        guard i + n <= bytes.count else { return false }
        for k in 0..<n where bytes[i + k] != text.utf8Start[k] { return false }
        i += n
        return true
    }

    /// `"name":`, telling which of the names looked for it is.
    mutating func memberName() -> Name? {
        guard peek == UInt8(ascii: "\""), let name = quotedName() else { return nil }
        if Self.equal(name, "id") { return .id }
        if Self.equal(name, "result") { return .result }
        if Self.equal(name, "error") { return .error }
        if Self.equal(name, "method") { return .method }
        return .other
    }

    /// `"name":` at `i`: the name's bytes as written, the cursor after the colon.
    mutating func quotedName() -> UnsafeRawBufferPointer? {
        let start = i + 1
        guard skipString() else { return nil }
        let name = UnsafeRawBufferPointer(rebasing: bytes[start..<(i - 1)])
        return take(UInt8(ascii: ":")) ? name : nil
    }

    static func equal(_ a: UnsafeRawBufferPointer, _ b: StaticString) -> Bool {
        guard a.count == b.utf8CodeUnitCount else { return false }
        for k in 0..<a.count where a[k] != b.utf8Start[k] { return false }
        return true
    }

    /// An integer that fits in `Int`, with no fraction or exponent.
    mutating func integer() -> Int? {
        skipSpace()
        var negative = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        let start = i
        var value = 0
        while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int(bytes[i] - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            value = sum
            i += 1
        }
        guard i > start else { return nil }
        if i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): return nil
            default: break
            }
        }
        return negative ? -value : value
    }

    /// An object; its own integer `version` member, if it has one, goes to `version`.
    mutating func object(version: inout Int?) -> Bool {
        guard take(UInt8(ascii: "{")) else { return false }
        if take(UInt8(ascii: "}")) { return true }
        repeat {
            guard peek == UInt8(ascii: "\""), let name = quotedName() else { return false }
            let value = i
            if Self.equal(name, "version"), let v = integer() {
                version = v
            } else {
                i = value  // not an integer after all: skip it whole
                guard skipValue() else { return false }
            }
        } while take(UInt8(ascii: ","))
        return take(UInt8(ascii: "}"))
    }

    /// A string starting at `i` (the opening quote), escapes and all.
    mutating func skipString() -> Bool {
        guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return false }
        i += 1
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "\""):
                i += 1
                return true
            case UInt8(ascii: "\\"): i += 2
            default: i += 1
            }
        }
        return false
    }

    static func isNumberByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "e"),
            UInt8(ascii: "E"):
            true
        default: false
        }
    }

    /// Any JSON value: strings, numbers, literals, and objects and arrays to their matching end.
    mutating func skipValue() -> Bool {
        switch peek {
        case UInt8(ascii: "\""):
            return skipString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while i < bytes.count {
                switch bytes[i] {
                case UInt8(ascii: "\""):
                    guard skipString() else { return false }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 {
                        i += 1
                        return true
                    }
                default: break
                }
                i += 1
            }
            return false
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let start = i
            while i < bytes.count, Self.isNumberByte(bytes[i]) { i += 1 }
            return i > start
        case UInt8(ascii: "t"): return literal("true")
        case UInt8(ascii: "f"): return literal("false")
        case UInt8(ascii: "n"): return literal("null")
        default: return false
        }
    }
}
