/// Equality, hashing and ordering of text by its UTF-8 bytes.
///
/// Swift's `String` compares and hashes by Unicode canonical equivalence: `"\u{E9}"` equals
/// `"e\u{301}"` and `"\u{212A}"` (KELVIN SIGN) equals `"K"`. Redis, and so Cairn's storage,
/// compares bytes. Every name and JSON object key goes through these functions (via `Name` and
/// `JSONKey`), so two texts that are different keys in Redis are never the same anywhere else.
enum UTF8Bytes {
    static func equal(_ a: String, _ b: String) -> Bool {
        let (x, y) = (a.utf8, b.utf8)
        guard x.count == y.count else { return false }  // O(1) for native strings
        let fast = x.withContiguousStorageIfAvailable { p in
            y.withContiguousStorageIfAvailable { q in p.baseAddress == q.baseAddress || p.elementsEqual(q) }
        }
        return (fast ?? nil) ?? x.elementsEqual(y)
    }

    static func hash(_ s: String, into hasher: inout Hasher) {
        let hashed: Void? = s.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil { for b in s.utf8 { hasher.combine(b) } }
        // The length ends the bytes, so that a name followed by another never hashes like their concatenation.
        hasher.combine(s.utf8.count)
    }

    /// Byte order, which for UTF-8 is also Unicode code point order.
    static func precedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}
