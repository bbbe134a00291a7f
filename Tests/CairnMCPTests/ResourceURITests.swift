import Testing

@testable import CairnMCP

@Suite struct ResourceURITests {
    @Test func absentPartsAreEmptySegments() {
        let uri = BlockResourceURI(tenant: "acme", task: nil, role: "researcher", label: "notes")
        #expect(uri.string == "cairn://acme//researcher/blocks/notes")
        #expect(BlockResourceURI(parsing: uri.string) == uri)
    }

    @Test func everyByteOutsideTheUnreservedSetIsEncoded() {
        let uri = BlockResourceURI(tenant: "a/b", task: "t 1", role: "é", label: "x%y?#~._-Z9")
        #expect(uri.string == "cairn://a%2Fb/t%201/%C3%A9/blocks/x%25y%3F%23~._-Z9")
        #expect(BlockResourceURI(parsing: uri.string) == uri)
    }

    @Test func decodingKeepsTheExactBytes() throws {
        // "é" as one code point and as e + combining accent are different names.
        let composed = BlockResourceURI(tenant: "t", task: nil, role: nil, label: "\u{E9}")
        let decomposed = BlockResourceURI(tenant: "t", task: nil, role: nil, label: "e\u{301}")
        #expect(composed.string != decomposed.string)
        let back = try #require(BlockResourceURI(parsing: decomposed.string))
        #expect(Array(back.label.utf8) == Array("e\u{301}".utf8))
    }

    @Test(arguments: [
        "http://acme//r/blocks/notes", "cairn://acme/t/r/items/notes", "cairn://acme/t/blocks/notes",
        "cairn:///t/r/blocks/notes", "cairn://acme/t/r/blocks/", "cairn://acme/t/r/blocks/a%2", "cairn://acme/t/r/blocks/a%zz",
        "cairn://acme/t/r/blocks/a b", "cairn://acme/t/r/blocks/%FF", "cairn://acme/t/r/blocks/a/b",
    ])
    func malformedURIsAreRejected(_ text: String) {
        #expect(BlockResourceURI(parsing: text) == nil)
    }
}
