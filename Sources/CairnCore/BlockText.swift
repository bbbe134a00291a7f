/// The text edits of shared memory blocks, as pure functions of the stored text.
///
/// Lines are the pieces between `\n`s, as Python's `str.split("\n")` makes them (so `""` has no
/// lines and `"a\n"` has two: `a` and an empty one). Characters are Unicode code points, what
/// Python's `len` counts. Matching is exact, by code points (no Unicode normalisation).
public enum BlockText {
    /// Characters (code points) in `text`.
    public static func characters(_ text: String) -> Int { text.unicodeScalars.count }

    static func lines(_ text: String) -> [Substring] {
        text.isEmpty ? [] : text.split(separator: "\n", omittingEmptySubsequences: false)
    }

    /// Inserts `text` as new line(s) after 1-based line `line`; `0` puts it on top, `-1` at the
    /// end. Into an empty block the result is exactly `text`. Other lines → `invalid_line`.
    public static func insert(_ text: String, into value: String, afterLine line: Int) throws(CairnError) -> String {
        try checkLine(line)
        let existing = lines(value)
        let position: Int
        if line == -1 {
            position = existing.count
        } else if line >= 0 && line <= existing.count {
            position = line
        } else {
            throw CairnError(
                .invalidLine,
                "line \(line) is out of range: the block has \(existing.count) line(s); use 0 (top) to \(existing.count), or -1 (end)",
                data: ["field": "line", "lines": .int(existing.count)])
        }
        if existing.isEmpty { return text }
        var result = existing[..<position].map(String.init)
        result.append(text)
        result.append(contentsOf: existing[position...].map(String.init))
        return result.joined(separator: "\n")
    }

    /// Refuses a `line` that no text makes valid (below -1) with `invalid_line`, before the
    /// block is read.
    public static func checkLine(_ line: Int) throws(CairnError) {
        guard line < -1 else { return }
        throw CairnError(
            .invalidLine, "line \(line) is not a place in a block: use 0 (top), k (after line k), or -1 (end)",
            data: ["field": "line"])
    }

    /// Replaces the one occurrence of `old` with `new`. `old` must be non-empty
    /// (`invalid_params`) and occur exactly once: none → `no_match`, more → `ambiguous_match`
    /// with the 1-based lines where the occurrences start.
    public static func replace(_ old: String, with new: String, in value: String) throws(CairnError) -> String {
        guard !old.isEmpty else { throw CairnError.invalidParams("old", "old must not be empty; use block.insert to add text") }
        let haystack = Array(value.utf8)
        let needle = Array(old.utf8)
        let starts = occurrences(of: needle, in: haystack)
        if starts.isEmpty {
            throw CairnError(.noMatch, "the text to replace does not occur in the block's current value; re-read it", data: ["field": "old"])
        }
        if starts.count > 1 {
            let lineNumbers = starts.map { start in 1 + haystack[..<start].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) } }
            throw CairnError(
                .ambiguousMatch,
                "the text to replace occurs \(starts.count) times (lines \(lineNumbers.map(String.init).joined(separator: ", "))); include more context so it occurs once",
                data: ["field": "old", "lines": .array(lineNumbers.map(JSONValue.int))])
        }
        var result = Array(haystack[..<starts[0]])
        result.append(contentsOf: new.utf8)
        result.append(contentsOf: haystack[(starts[0] + needle.count)...])
        return String(decoding: result, as: UTF8.self)
    }

    /// Start offsets of the non-overlapping occurrences of `needle`, left to right.
    static func occurrences(of needle: [UInt8], in haystack: [UInt8]) -> [Int] {
        guard !needle.isEmpty, needle.count <= haystack.count else { return [] }
        var found: [Int] = []
        var i = 0
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == needle[0] && haystack[i..<(i + needle.count)].elementsEqual(needle) {
                found.append(i)
                i += needle.count
            } else {
                i += 1
            }
        }
        return found
    }

    /// Checks `text` against a block's character limit.
    public static func checkLimit(_ text: String, limit: Int) throws(CairnError) {
        let count = characters(text)
        if count > limit {
            throw CairnError(
                .limitExceeded,
                "the edit would make the block \(count) characters long; its limit is \(limit). Shorten it (block.rethink) or raise the limit (admin)",
                data: ["limit": .int(limit), "requested": .int(count)])
        }
    }
}
