import Cairn
import CairnServer
import CairnTestSupport
import Foundation
import Testing

/// Every ```` ```transcript ```` block of `docs/protocol.md` is replayed against an in-process
/// server (`auth none`), each on a connection of its own and in a tenant of its own, and every
/// line the server sends must match the one the document shows. So the reference cannot drift
/// from what the server does.
///
/// The notation (explained at the top of the document):
/// - `> ` a line sent, `< ` a line received. The `hello` each connection starts with is checked
///   only when the block's first line is a `< ` line.
/// - `$TENANT` is the block's fresh tenant. Any other `$NAME` (capitals, digits, `_`) that a
///   received line shows as a whole JSON string is bound to the value received there; later
///   lines (sent or received) use it.
/// - `"…"` matches any value; a member `"…": "…"` allows members not shown.
/// - Consecutive `< ` lines are one group: the responses in it must come in the order shown, and
///   the notifications (no `id`) in the order shown, but notifications may come between the
///   responses anywhere in the group (as the protocol allows).
@Suite struct ProtocolDocTests {
    static let documentURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/protocol.md")

    @Test func everyTranscriptInTheProtocolReferenceIsTrue() async throws {
        let text = try String(contentsOf: Self.documentURL, encoding: .utf8)
        let transcripts = try Transcript.extract(from: text)
        // The document is the project's reference: it shows many exchanges, and none is skipped.
        #expect(transcripts.count >= 15)
        let server = try await TestServer(auth: .none)
        for transcript in transcripts {
            try await transcript.replay(port: server.port)
        }
        await server.stop()
    }

    /// The ```` ```json ```` blocks are not replayed (they need a configuration or timing a test
    /// cannot give, or show behaviour whose transcript is still to come), but each of their
    /// lines must at least be JSON, with or without the `> `/`< ` mark.
    @Test func everyJSONExampleIsJSON() throws {
        let text = try String(contentsOf: Self.documentURL, encoding: .utf8)
        var inBlock = false
        var checked = 0
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if !inBlock {
                inBlock = line == "```json"
                continue
            }
            if line == "```" {
                inBlock = false
                continue
            }
            var body = Substring(line)
            if body.hasPrefix("> ") || body.hasPrefix("< ") { body = body.dropFirst(2) }
            guard !body.isEmpty else { continue }
            do {
                _ = try JSONValue(parsing: Array(body.utf8))
                checked += 1
            } catch {
                Issue.record("docs/protocol.md:\(index + 1): not JSON: \(error)")
            }
        }
        #expect(checked >= 10)
    }

    @Test func matcherAcceptsWildcardsAndBindsNames() throws {
        var bindings: [String: JSONValue] = [:]
        let expected = try JSONValue(parsing: Array(#"{"a":"…","b":"$X","c":[1,2],"…":"…"}"#.utf8))
        let received = try JSONValue(parsing: Array(#"{"a":{"z":1},"b":"1-0","c":[1,2.0],"d":true}"#.utf8))
        #expect(Transcript.match(expected, received, bindings: &bindings) == nil)
        #expect(bindings["X"] == "1-0")
    }

    @Test func matcherRejectsWhatDiffers() throws {
        func mismatch(_ expected: String, _ received: String) throws -> Bool {
            var bindings: [String: JSONValue] = ["X": "1-0"]
            return Transcript.match(
                try JSONValue(parsing: Array(expected.utf8)), try JSONValue(parsing: Array(received.utf8)),
                bindings: &bindings) != nil
        }
        #expect(try mismatch(#"{"a":1}"#, #"{"a":1,"b":2}"#))  // a member not shown
        #expect(try mismatch(#"{"a":1,"b":2}"#, #"{"a":1}"#))  // a member missing
        #expect(try mismatch(#"{"a":"$X"}"#, #"{"a":"2-0"}"#))  // a bound name with another value
        #expect(try mismatch(#"[1,2]"#, #"[2,1]"#))
        #expect(try mismatch(#""e\u0301""#, #""é""#))  // strings compare by their bytes
        #expect(try mismatch(#"1"#, #""1""#))
    }

    @Test func groupsLetNotificationsComeBetweenResponses() throws {
        let lines = [#"{"id":1,"result":1}"#, #"{"method":"event","params":1}"#, #"{"id":2,"result":2}"#]
        var bindings: [String: JSONValue] = [:]
        let expected = try lines.map { try JSONValue(parsing: Array($0.utf8)) }
        let received = try [lines[1], lines[0], lines[2]].map { try JSONValue(parsing: Array($0.utf8)) }
        #expect(Transcript.matchGroup(expected, received, bindings: &bindings) == nil)
        let swapped = try [lines[2], lines[1], lines[0]].map { try JSONValue(parsing: Array($0.utf8)) }
        #expect(Transcript.matchGroup(expected, swapped, bindings: &bindings) != nil)
    }
}

/// One ```` ```transcript ```` block of the document.
struct Transcript: Sendable {
    enum Line: Sendable {
        case send(String)
        case receive(String)
    }

    /// Where the block starts in the document (1-based), for failure messages.
    var firstLine: Int
    var lines: [(number: Int, line: Line)]

    static func extract(from document: String) throws -> [Transcript] {
        var found: [Transcript] = []
        var current: Transcript?
        for (index, raw) in document.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = String(raw)
            if current == nil {
                if line.trimmingCharacters(in: .whitespaces) == "```transcript" { current = Transcript(firstLine: number, lines: []) }
                continue
            }
            if line.trimmingCharacters(in: .whitespaces) == "```" {
                found.append(current!)
                current = nil
            } else if line.hasPrefix("> ") {
                current!.lines.append((number, .send(String(line.dropFirst(2)))))
            } else if line.hasPrefix("< ") {
                current!.lines.append((number, .receive(String(line.dropFirst(2)))))
            } else if !line.trimmingCharacters(in: .whitespaces).isEmpty {
                Issue.record("docs/protocol.md:\(number): a transcript line starts with neither \"> \" nor \"< \"")
            }
        }
        if let current { Issue.record("docs/protocol.md:\(current.firstLine): the transcript block is not closed") }
        return found
    }

    /// Runs the block on a new connection in a new tenant.
    func replay(port: Int) async throws {
        let client = try await RawLineClient(port: port)
        defer { Task { await client.close() } }
        var bindings: [String: JSONValue] = ["TENANT": .string("doc-" + UUID().uuidString.prefix(8).lowercased())]
        var index = 0
        if case .receive = lines.first?.line {
        } else {
            _ = try await client.readLine()  // the hello, not shown in this block
        }
        while index < lines.count {
            switch lines[index].line {
            case .send(let text):
                try await client.send(Transcript.substitute(text, bindings) + "\n")
                index += 1
            case .receive:
                var group: [(number: Int, text: String)] = []
                while index < lines.count, case .receive(let text) = lines[index].line {
                    group.append((lines[index].number, text))
                    index += 1
                }
                var received: [JSONValue] = []
                var receivedText: [String] = []
                for _ in group {
                    guard let line = try await client.readLine() else {
                        Issue.record("docs/protocol.md:\(group[0].number): the server closed the connection; expected \(group.count) line(s), got \(received.count): \(receivedText)")
                        return
                    }
                    receivedText.append(line)
                    received.append(try JSONValue(parsing: Array(line.utf8)))
                }
                var expected: [JSONValue] = []
                for (number, text) in group {
                    do {
                        expected.append(try JSONValue(parsing: Array(Transcript.substitute(text, bindings).utf8)))
                    } catch {
                        Issue.record("docs/protocol.md:\(number): the line is not JSON: \(error)")
                        return
                    }
                }
                if let problem = Transcript.matchGroup(expected, received, bindings: &bindings) {
                    Issue.record("docs/protocol.md:\(group[0].number): \(problem)\nreceived:\n\(receivedText.joined(separator: "\n"))")
                    return
                }
            }
        }
        // Nothing the block does not show may be waiting: the next line must answer this ping.
        try await client.send(#"{"id":"end of transcript","method":"ping"}"# + "\n")
        let last = try await client.readLine()
        if last != #"{"jsonrpc":"2.0","id":"end of transcript","result":{"pong":true}}"# {
            Issue.record("docs/protocol.md:\(firstLine): the server sent a line the transcript does not show: \(last ?? "(closed)")")
        }
    }

    /// Replaces each bound `$NAME` in `text` (longest names first) by its value: a string's
    /// contents (as they appear inside a JSON string), any other value's JSON text.
    static func substitute(_ text: String, _ bindings: [String: JSONValue]) -> String {
        var out = text
        for (name, value) in bindings.sorted(by: { $0.key.utf8.count > $1.key.utf8.count }) {
            var replacement: String
            if case .string = value {
                replacement = value.serialized()
                replacement = String(replacement.dropFirst().dropLast())
            } else {
                replacement = value.serialized()
            }
            out = out.replacingOccurrences(of: "$" + name, with: replacement)
        }
        return out
    }

    /// Matches a group of received lines: responses in order, notifications in order, either
    /// interleaved. nil when they match, else what differs.
    static func matchGroup(_ expected: [JSONValue], _ received: [JSONValue], bindings: inout [String: JSONValue]) -> String? {
        func isResponse(_ v: JSONValue) -> Bool { v["method"] == nil }
        let pairs = [(expected.filter(isResponse), received.filter(isResponse)), (expected.filter { !isResponse($0) }, received.filter { !isResponse($0) })]
        for (want, got) in pairs {
            guard want.count == got.count else {
                return "expected \(want.count) \(want.first.map(isResponse) ?? true ? "response(s)" : "notification(s)"), received \(got.count)"
            }
            for (w, g) in zip(want, got) {
                if let problem = match(w, g, bindings: &bindings) { return "\(problem)\nexpected \(w)\nreceived \(g)" }
            }
        }
        return nil
    }

    static let wildcard = "…"

    /// nil when `received` matches `expected` (see the suite's notation), else where it differs.
    static func match(_ expected: JSONValue, _ received: JSONValue, bindings: inout [String: JSONValue], at path: String = "$") -> String? {
        if case .string(let s) = expected {
            if s == wildcard { return nil }
            if let name = placeholder(s) {
                if let bound = bindings[name] { return match(bound, received, bindings: &bindings, at: path) }
                bindings[name] = received
                return nil
            }
        }
        switch (expected, received) {
        case (.null, .null): return nil
        case let (.bool(a), .bool(b)) where a == b: return nil
        case let (.string(a), .string(b)) where a.utf8.elementsEqual(b.utf8): return nil
        case (.int, .int), (.int, .double), (.double, .int), (.double, .double):
            return expected.numberValue == received.numberValue ? nil : "\(path): \(received) instead of \(expected)"
        case let (.array(a), .array(b)):
            guard a.count == b.count else { return "\(path): \(b.count) elements instead of \(a.count)" }
            for (i, (x, y)) in zip(a, b).enumerated() {
                if let problem = match(x, y, bindings: &bindings, at: "\(path)[\(i)]") { return problem }
            }
            return nil
        case let (.object(a), .object(b)):
            let open = a[wildcard] == .string(wildcard)
            for (key, value) in a where key != JSONKey(wildcard) {
                guard let other = b[key] else { return "\(path).\(key) is missing" }
                if let problem = match(value, other, bindings: &bindings, at: "\(path).\(key)") { return problem }
            }
            if !open, let extra = b.keys.first(where: { a[$0] == nil }) { return "\(path).\(extra) is not shown in the document" }
            return nil
        default:
            return "\(path): \(received) instead of \(expected)"
        }
    }

    /// `NAME` when `s` is `$NAME` (capitals, digits, `_`).
    static func placeholder(_ s: String) -> String? {
        guard s.hasPrefix("$"), s.utf8.count > 1 else { return nil }
        let name = s.dropFirst()
        guard name.first.map({ $0 >= "A" && $0 <= "Z" }) == true,
            name.allSatisfy({ ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "_" })
        else { return nil }
        return String(name)
    }
}
