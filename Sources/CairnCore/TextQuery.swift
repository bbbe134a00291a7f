#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `search` text query: case-insensitive word relevance over an item's strings.
///
/// The query and the text are split into words (runs of letters, digits and combining marks)
/// and lower-cased. An item matches when at least one query word occurs among its words. Its
/// score adds, for each distinct query word found, `1 + ln(occurrences)`, and 1 more when the
/// whole query occurs as a phrase; so more query words beat repeated ones, and every match
/// scores above zero.
///
/// Matching runs over UTF-8 bytes without allocating per word (ASCII text takes a fast path),
/// because a search may score every item of a 10,000-item scope.
public struct TextQuery: Sendable, Hashable {
    public let text: String
    /// The distinct query words, lower-cased, in query order.
    public let terms: [String]
    /// Every query word in order (for the phrase bonus).
    let sequence: [[UInt8]]
    let termBytes: [[UInt8]]

    /// nil when the query has no words at all.
    public init?(_ text: String) {
        let words = TextQuery.words(in: text)
        guard !words.isEmpty else { return nil }
        self.text = text
        var seen = Set<String>()
        terms = words.filter { seen.insert($0).inserted }
        termBytes = terms.map { Array($0.utf8) }
        sequence = words.map { Array($0.utf8) }
    }

    /// Lower-cased words of `text`.
    public static func words(in text: String) -> [String] {
        var words: [String] = []
        var scratch = WordScanner()
        scratch.scan(text) { words.append(String(decoding: $0, as: UTF8.self)) }
        return words
    }

    /// The relevance of `strings` (an item's string content), or nil when nothing matches.
    public func score(_ strings: [String]) -> Double? {
        var counts = [Int](repeating: 0, count: termBytes.count)
        var phraseAt = 0
        var phrase = sequence.count < 2
        var scanner = WordScanner()
        for s in strings {
            scanner.scan(s) { word in
                for (i, term) in termBytes.enumerated() where term.count == word.count && term.elementsEqual(word) {
                    counts[i] += 1
                    break
                }
                if !phrase {
                    if sequence[phraseAt].elementsEqual(word) {
                        phraseAt += 1
                    } else {
                        phraseAt = sequence[0].elementsEqual(word) ? 1 : 0
                    }
                    if phraseAt == sequence.count { phrase = true }
                }
            }
        }
        guard counts.contains(where: { $0 > 0 }) else { return nil }
        var score = 0.0
        for n in counts where n > 0 { score += 1 + log(Double(n)) }
        if sequence.count > 1 && phrase { score += 1 }
        return score
    }
}

/// Splits text into lower-cased words, reusing one buffer.
struct WordScanner {
    private var word: [UInt8] = []

    init() { word.reserveCapacity(64) }

    /// Calls `body` with each word's lower-cased UTF-8 bytes (valid only during the call).
    mutating func scan(_ text: String, _ body: (ArraySlice<UInt8>) -> Void) {
        word.removeAll(keepingCapacity: true)
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            for b in text.utf8 {
                switch b {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): word.append(b)
                case UInt8(ascii: "A")...UInt8(ascii: "Z"): word.append(b + 32)
                default: flush(body)
                }
            }
        } else {
            for scalar in text.unicodeScalars {
                let p = scalar.properties
                if p.isAlphabetic || p.numericType != nil {
                    if scalar.isASCII {
                        let b = UInt8(scalar.value)
                        word.append(b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") ? b + 32 : b)
                    } else {
                        word.append(contentsOf: p.lowercaseMapping.utf8)
                    }
                } else if !word.isEmpty, p.generalCategory == .nonspacingMark || p.generalCategory == .spacingMark {
                    word.append(contentsOf: String(scalar).utf8)  // é written as e + U+0301 stays one word
                } else {
                    flush(body)
                }
            }
        }
        flush(body)
    }

    private mutating func flush(_ body: (ArraySlice<UInt8>) -> Void) {
        guard !word.isEmpty else { return }
        body(word[...])
        word.removeAll(keepingCapacity: true)
    }
}
