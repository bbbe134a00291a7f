import CairnCore
import Testing

/// The line driver's scanner (`cairn-bench scan` prints what it finds in each line): the id,
/// the kind of answer, a null result and the result's own version, found without parsing, and
/// lines that are not one JSON object rejected.
@Suite("cairn-bench response scanner")
struct ResponseScanTests {
    /// A line cairnd could send, and what the scanner must find in it (`nil`: rejected).
    static let cases: [(line: String, expected: JSONValue)] = [
        // A get's item: the result's own version, not the one inside its value or deeper.
        (#"{"jsonrpc":"2.0","id":3,"result":{"ns":{"tenant":"t","task":"get"},"key":"k1","kind":"item","value":{"version":99,"s":"a \"}\" b","list":[1,{"version":7}]},"version":4,"created_at":"2026-11-22T10:00:00.123Z","updated_by":"admin"}}"#,
         answer("result", id: 3, version: 4)),
        // A get of an absent item.
        (#"{"jsonrpc":"2.0","id":5,"result":null}"#, answer("result", id: 5, null: true)),
        // A put's result.
        (#"{"jsonrpc":"2.0","id":13,"result":{"version":7,"created_at":"2026-11-22T10:00:00.123Z","updated_at":"2026-11-22T10:00:00.123Z"}}"#,
         answer("result", id: 13, version: 7)),
        // Errors, with an id and without (a line cairnd could not read).
        (#"{"jsonrpc":"2.0","id":6,"error":{"code":4009,"message":"version conflict","data":{"reason":"version_conflict","current_version":1}}}"#,
         answer("error", id: 6)),
        (#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error","data":{"reason":"parse_error"}}}"#,
         answer("error")),
        // Notifications.
        (#"{"jsonrpc":"2.0","method":"hello","params":{"server":"cairn","auth":"required","max_line_bytes":1048576}}"#,
         answer("notification")),
        (#"{"jsonrpc":"2.0","method":"event","params":{"key":"k","version":8,"id":4}}"#, answer("notification")),
        // Any member order, whitespace between tokens, a trailing carriage return.
        (#"{"result":{"version":2},"id":9,"jsonrpc":"2.0"}"#, answer("result", id: 9, version: 2)),
        (" { \"id\" : 10 ,\t\"result\" : { \"version\" : 3 } } ", answer("result", id: 10, version: 3)),
        ("{\"id\":15,\"result\":{\"version\":5}}\r", answer("result", id: 15, version: 5)),
        // Escaped backslashes before a closing quote, and unicode escapes.
        (#"{"id":14,"result":{"value":"a\\","key":"\u0022}","version":2}}"#, answer("result", id: 14, version: 2)),
        // Versions that are not integers, and ids that are not integers: not taken.
        (#"{"id":11,"result":{"version":"7"}}"#, answer("result", id: 11)),
        (#"{"id":12,"result":{"version":1.5}}"#, answer("result", id: 12)),
        (#"{"id":"x","result":{"version":-1}}"#, answer("result", version: -1)),
        (#"{"id":99999999999999999999,"result":true}"#, answer("result")),
        (#"{"id":16,"result":{}}"#, answer("result", id: 16)),
        (#"{"id":17,"other":[{"a":[]},"]}"]}"#, answer("other", id: 17)),
        // Not one JSON object.
        (#"{"id":1,"result":{"version":1}"#, .null),
        (#"{"id":1,"result":"unterminated}"#, .null),
        (#"{"id":1,"result":null} trailing"#, .null),
        (#"{"id":1,"result":nul}"#, .null),
        (#"{"id":1 "result":null}"#, .null),
        (#"{id:1}"#, .null),
        (#"[1,2]"#, .null),
        ("not json", .null),
        ("", .null),
    ]

    static func answer(_ kind: String, id: Int? = nil, null: Bool = false, version: Int? = nil) -> JSONValue {
        [
            "kind": .string(kind), "id": id.map(JSONValue.int) ?? .null, "result_null": .bool(null),
            "version": version.map(JSONValue.int) ?? .null,
        ]
    }

    @Test func findsWhatTheLineDriverChecks() async throws {
        let run = try await Bench.run(["scan"], input: Self.cases.map(\.line).joined(separator: "\n") + "\n")
        #expect(run.status == 0, "\(run)")
        let lines = run.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        try #require(lines.count == Self.cases.count, "\(run)")
        for (found, c) in zip(lines, Self.cases) {
            #expect(try JSONValue(parsing: String(found)) == c.expected, "\(c.line)")
        }
    }
}
