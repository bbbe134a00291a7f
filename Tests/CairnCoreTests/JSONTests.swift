import CairnCore
import Testing

@Suite struct JSONTests {
    @Test(arguments: [
        "null", "true", "false", "0", "-12", "9223372036854775807", "1.5", "-0.25", "1e-05", "\"\"",
        "\"h\\u00e9llo \\\"q\\\" \\\\ \\n\"", "[]", "{}", "[1,\"a\",null,[true],{\"k\":{}}]",
        "{\"b\":1,\"a\":[2.5,{\"z\":\"😀\"}]}",
    ])
    func roundTrip(text: String) throws {
        let value = try JSONValue(parsing: text)
        let again = try JSONValue(parsing: value.serialized())
        #expect(again == value)
    }

    @Test func keepsMemberOrderAndTypes() throws {
        let value = try JSONValue(parsing: #" { "z" : 1 , "a" : 2.0, "m": [ ] } "#)
        #expect(value.serialized() == #"{"z":1,"a":2.0,"m":[]}"#)
        #expect(value["z"] == .int(1))
        #expect(value["a"] == .double(2))
    }

    @Test func decodesEscapesAndSurrogates() throws {
        let value = try JSONValue(parsing: #""\ud83d\ude00 \u00e9\t\/""#)
        #expect(value == .string("😀 é\t/"))
        #expect(JSONValue.string("a\u{1}b\u{7F}").serialized() == #""a\u0001b\u007f""#)
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":}", "01", "1.", "-", "tru", "\"abc", "\"\u{01}\"", "[1] 2", "{\"a\" 1}",
        "\"\\ud800\"", "\"\\x\"", "nan", "1e999",
    ])
    func rejectsInvalid(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
    }

    @Test func boundsNesting() {
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: deep) }
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect((try? JSONValue(parsing: fine)) != nil)
    }

    @Test func bigIntegersBecomeDoubles() throws {
        #expect(try JSONValue(parsing: "12345678901234567890") == .double(Double("12345678901234567890")!))
        #expect(try JSONValue(parsing: "-9223372036854775808") == .int(Int.min))
    }
}

@Suite struct TimestampTests {
    @Test func formatsAndParses() throws {
        let t = Timestamp(millisecondsSince1970: 1_795_348_800_123)
        #expect(t.rfc3339 == "2026-11-22T12:00:00.123Z")
        #expect(Timestamp(rfc3339: t.rfc3339) == t)
        #expect(Timestamp(millisecondsSince1970: 0).rfc3339 == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp(rfc3339: "2026-11-22T10:00:00+02:00")?.rfc3339 == "2026-11-22T08:00:00.000Z")
        #expect(Timestamp(rfc3339: "2024-02-29T23:59:59.5Z")?.rfc3339 == "2024-02-29T23:59:59.500Z")
        #expect(Timestamp(rfc3339: "2026-11-22T10:00:00.123456Z")?.millisecondsSince1970 == 1_795_341_600_123)
        #expect(Timestamp(rfc3339: "yesterday") == nil)
        #expect(Timestamp(rfc3339: "2026-13-01T00:00:00Z") == nil)
    }

    @Test func everyFormattedTimeParsesBackToItself() {
        // From year 0 to 9999, plus the edges: formatting writes its digits in place.
        let edges: [Int64] = [-62_167_219_200_000, 253_402_300_799_999, -1, 0, 951_782_400_000, 4_107_542_399_999]
        var generator = SystemRandomNumberGenerator()
        let samples = edges + (0..<5000).map { _ in Int64.random(in: -62_167_219_200_000...253_402_300_799_999, using: &generator) }
        for ms in samples {
            let text = Timestamp(millisecondsSince1970: ms).rfc3339
            #expect(text.utf8.count == 24, "\(ms) → \(text)")
            #expect(Timestamp(rfc3339: text)?.millisecondsSince1970 == ms, "\(ms) → \(text)")
        }
    }

    @Test func roundTripsManyInstants() {
        var ms: Int64 = -86_400_000 * 400
        while ms < 4_102_444_800_000 {
            let t = Timestamp(millisecondsSince1970: ms)
            #expect(Timestamp(rfc3339: t.rfc3339) == t)
            ms += 7_776_000_017
        }
    }
}
