import Foundation
import Testing

/// Every ```swift block of README.md and docs/*.md is compiled: it must appear, line by line,
/// in a file of `Examples/DocExamples` (which every build compiles). Leading white space is
/// ignored so a snippet may sit inside a function there.
@Suite struct DocExampleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The fenced ```swift blocks of a Markdown text, each as its lines.
    static func swiftBlocks(_ markdown: String) -> [[String]] {
        var blocks: [[String]] = []
        var current: [String]?
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if current == nil {
                if line.trimmingCharacters(in: .whitespaces) == "```swift" { current = [] }
            } else if line.trimmingCharacters(in: .whitespaces) == "```" {
                blocks.append(current!)
                current = nil
            } else {
                current!.append(line)
            }
        }
        return blocks
    }

    static func normalized(_ lines: [String]) -> [String] {
        lines.map { String($0.drop(while: { $0 == " " || $0 == "\t" })) }.filter { !$0.isEmpty }
    }

    /// Whether `needle` occurs as consecutive lines of `haystack`.
    static func contains(_ haystack: [String], _ needle: [String]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { Array(haystack[$0..<($0 + needle.count)]) == needle }
    }

    @Test func blocksAreFoundWithTheirLines() {
        let markdown = "text\n```swift\nlet a = 1\n  print(a)\n```\n```sh\nls\n```\n```swift\nb()\n```\n"
        #expect(Self.swiftBlocks(markdown) == [["let a = 1", "  print(a)"], ["b()"]])
        #expect(Self.contains(Self.normalized(["x", "    let a = 1", "", "print(a)", "y"]), Self.normalized(["let a = 1", "  print(a)"])))
        #expect(!Self.contains(Self.normalized(["let a = 1", "y", "print(a)"]), Self.normalized(["let a = 1", "print(a)"])))
    }

    @Test func everySwiftExampleOfTheDocsIsCompiled() throws {
        let fm = FileManager.default
        let examples = Self.root.appendingPathComponent("Examples/DocExamples")
        let sources = try fm.contentsOfDirectory(atPath: examples.path).filter { $0.hasSuffix(".swift") }.sorted()
            .map { Self.normalized(try String(contentsOf: examples.appendingPathComponent($0), encoding: .utf8).components(separatedBy: "\n")) }
        #expect(!sources.isEmpty)
        let docs = ["README.md"] + (try fm.contentsOfDirectory(atPath: Self.root.appendingPathComponent("docs").path))
            .filter { $0.hasSuffix(".md") }.sorted().map { "docs/\($0)" }
        var checked = 0
        for doc in docs {
            let text = try String(contentsOf: Self.root.appendingPathComponent(doc), encoding: .utf8)
            for (index, block) in Self.swiftBlocks(text).enumerated() {
                checked += 1
                let lines = Self.normalized(block)
                #expect(
                    sources.contains { Self.contains($0, lines) },
                    "swift block \(index + 1) of \(doc) (starting \(lines.first.map(\.debugDescription) ?? "empty")) is not in Examples/DocExamples: copy it there so the build compiles it")
            }
        }
        #expect(checked >= 2, "README.md and docs/events.md hold Swift examples")
    }
}
