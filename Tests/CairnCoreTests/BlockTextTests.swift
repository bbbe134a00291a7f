import CairnCore
import Testing

@Suite struct BlockTextTests {
    func reason(_ body: () throws(CairnError) -> String) -> CairnError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error
        }
    }

    @Test func insertPositions() throws {
        #expect(try BlockText.insert("X", into: "a\nb", afterLine: 1) == "a\nX\nb")
        #expect(try BlockText.insert("X", into: "a\nb", afterLine: 0) == "X\na\nb")
        #expect(try BlockText.insert("X", into: "a\nb", afterLine: -1) == "a\nb\nX")
        #expect(try BlockText.insert("X", into: "a\nb", afterLine: 2) == "a\nb\nX")
        #expect(try BlockText.insert("X\nY", into: "a\nb", afterLine: 1) == "a\nX\nY\nb")
        #expect(try BlockText.insert("X", into: "a\n", afterLine: -1) == "a\n\nX")
    }

    @Test func insertIntoEmptyIsExactlyTheText() throws {
        for line in [-1, 0] {
            #expect(try BlockText.insert("first\nsecond", into: "", afterLine: line) == "first\nsecond")
        }
        #expect(reason { () throws(CairnError) in try BlockText.insert("x", into: "", afterLine: 1) }?.reason == .invalidLine)
    }

    @Test func insertOutOfRange() {
        for line in [3, 100, -2] {
            let e = reason { () throws(CairnError) in try BlockText.insert("x", into: "a\nb", afterLine: line) }
            #expect(e?.reason == .invalidLine)
            #expect(e?.field == "line")
        }
    }

    @Test func replaceExactlyOne() throws {
        #expect(try BlockText.replace("cat", with: "dog", in: "the cat sat") == "the dog sat")
        #expect(try BlockText.replace("cat ", with: "", in: "the cat sat") == "the sat")
        #expect(try BlockText.replace("line 2\n", with: "", in: "line 1\nline 2\nline 3") == "line 1\nline 3")
        let none = reason { () throws(CairnError) in try BlockText.replace("bird", with: "x", in: "the cat sat") }
        #expect(none?.reason == .noMatch)
        let many = reason { () throws(CairnError) in try BlockText.replace("cat", with: "x", in: "cat\nno\ncat and cat") }
        #expect(many?.reason == .ambiguousMatch)
        #expect(many?.data["lines"] == [1, 3, 3])
        #expect(reason { () throws(CairnError) in try BlockText.replace("", with: "x", in: "abc") }?.reason == .invalidParams)
    }

    @Test func replaceMatchesCodePointsExactly() throws {
        // "é" precomposed (U+00E9) and decomposed (e + U+0301) are different text here.
        let decomposed = "cafe\u{301}"
        #expect(reason { () throws(CairnError) in try BlockText.replace("café", with: "x", in: decomposed) }?.reason == .noMatch)
        #expect(try BlockText.replace("😀", with: "🙂", in: "a😀b") == "a🙂b")
    }

    @Test func charactersAreCodePoints() throws {
        #expect(BlockText.characters("héllo") == 5)
        #expect(BlockText.characters("😀👍🏽") == 3)  // Python: len("😀👍🏽") == 3
        #expect(BlockText.characters("e\u{301}") == 2)
        try BlockText.checkLimit("😀😀😀", limit: 3)
        let e = reason { () throws(CairnError) in
            try BlockText.checkLimit("😀😀😀😀", limit: 3)
            return ""
        }
        #expect(e?.reason == .limitExceeded)
        #expect(e?.data["limit"] == 3 && e?.data["requested"] == 4)
        #expect(e?.code == 4011)
    }
}
