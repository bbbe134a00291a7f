import ArgumentParser
import CairnCore

/// `cairn-bench scan` (hidden): what the line driver's scanner finds in each line of standard
/// input, one JSON object per line (`null` for a line it rejects). The tests' window on
/// `ResponseScan`, since a test target cannot import an executable.
struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print what the line driver's scanner finds in each line of standard input.", shouldDisplay: false)

    func run() {
        while let line = readLine(strippingNewline: true) {
            print(Self.render(ResponseScan(Array(line.utf8))))
        }
    }

    static func render(_ scan: ResponseScan?) -> String {
        guard let scan else { return "null" }
        let kind: String =
            switch scan.kind {
            case .result: "result"
            case .error: "error"
            case .notification: "notification"
            case .other: "other"
            }
        let out: JSONValue = [
            "kind": .string(kind), "id": scan.id.map(JSONValue.int) ?? .null, "result_null": .bool(scan.resultIsNull),
            "version": scan.version.map(JSONValue.int) ?? .null,
        ]
        return out.serialized()
    }
}
