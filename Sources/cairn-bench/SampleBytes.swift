import CairnCore
import NIOCore

/// `Sample.value(i)` as compact JSON, written straight into a `ByteBuffer`: the same members in
/// the same order, so the same bytes as `Sample.value(i).write(to:)` (`LineRequests.verify`
/// checks it). Its text pieces are escaped once, here.
struct SampleBytes: Sendable {
    /// Each word as a JSON string, quotes included.
    private let quotedWords: [[UInt8]]
    /// Each word escaped for the inside of a JSON string (no quotes).
    private let bareWords: [[UInt8]]
    private let quotedStatuses: [[UInt8]]
    /// `,"pad":"…"` when `--value-bytes` asked for padding, else empty.
    private let pad: [UInt8]

    init() {
        func quoted(_ s: String) -> [UInt8] {
            var out: [UInt8] = []
            JSONValue.writeString(s, to: &out)
            return out
        }
        quotedWords = Sample.words.map(quoted)
        bareWords = quotedWords.map { Array($0.dropFirst().dropLast()) }
        quotedStatuses = Sample.statuses.map(quoted)
        pad = Sample.padding.isEmpty ? [] : Array(#","pad":"#.utf8) + quoted(Sample.padding)
    }

    func write(_ i: Int, into buffer: inout ByteBuffer) {
        let words = Sample.words.count
        buffer.writeStaticString(#"{"title":"benchmark item "#)
        buffer.writeDecimal(i)
        buffer.writeStaticString(#"","status":"#)
        buffer.writeBytes(quotedStatuses[i % quotedStatuses.count])
        buffer.writeStaticString(#","score":"#)
        buffer.writeDecimal(i % 100)
        buffer.writeStaticString(#","owner":"agent-"#)
        buffer.writeDecimal(i % 7)
        buffer.writeStaticString(#"","tags":["bench","#)
        buffer.writeBytes(quotedWords[i % words])
        buffer.writeStaticString(#"],"body":""#)
        buffer.writeBytes(bareWords[(i / 3) % words])
        buffer.writeInteger(UInt8(ascii: " "))
        buffer.writeBytes(bareWords[(i * 7) % words])
        buffer.writeInteger(UInt8(ascii: " "))
        buffer.writeBytes(bareWords[(i / 16) % words])
        buffer.writeStaticString(" note ")
        buffer.writeDecimal(i)
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeBytes(pad)
        buffer.writeInteger(UInt8(ascii: "}"))
    }
}
