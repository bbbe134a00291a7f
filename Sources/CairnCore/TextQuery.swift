#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `search` text query: case-insensitive word relevance over an item's strings.
///
/// The query and the text are split into words (runs of letters and digits) and lower-cased. An
/// item matches when at least one query word occurs among its words. Its score adds, for each
/// distinct query word found, `1 + ln(occurrences)`, and 1 more when the whole query occurs as a
/// phrase; so more query words beat repeated ones, and every match scores above zero.
public struct TextQuery: Sendable, Hashable {
    public let text: String
    public let terms: [String]
    let phrase: String

    /// nil when the query has no words at all.
    public init?(_ text: String) {
        let words = TextQuery.words(in: text)
        guard !words.isEmpty else { return nil }
        self.text = text
        var seen = Set<String>()
        terms = words.filter { seen.insert($0).inserted }
        phrase = words.joined(separator: " ")
    }

    /// Lower-cased words of `text`.
    public static func words(in text: String) -> [String] {
        var words: [String] = []
        var current = ""
        for ch in text.lowercased() {
            if ch.isLetter || ch.isNumber {
                current.append(ch)
            } else if !current.isEmpty {
                words.append(current)
                current = ""
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// The relevance of `strings` (an item's string content), or nil when nothing matches.
    public func score(_ strings: [String]) -> Double? {
        var counts: [String: Int] = [:]
        let wanted = Set(terms)
        var allWords: [String] = []
        for s in strings {
            for w in TextQuery.words(in: s) {
                allWords.append(w)
                if wanted.contains(w) { counts[w, default: 0] += 1 }
            }
        }
        guard !counts.isEmpty else { return nil }
        var score = 0.0
        for (_, n) in counts { score += 1 + log(Double(n)) }
        if terms.count > 1, (" " + allWords.joined(separator: " ") + " ").contains(" " + phrase + " ") { score += 1 }
        return score
    }
}
