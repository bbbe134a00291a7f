import ArgumentParser
import CairnCore
import Foundation

/// Writing to stdout and stderr.
enum Output {
    static func line(_ text: String) {
        print(text)
    }

    /// Writes out what `line` printed so far: stdout is block-buffered when it is a pipe, which
    /// would hold back the lines of a command that runs on (`watch`). False when the write
    /// failed, e.g. the reading end of the pipe was closed (SIGPIPE is ignored in this process,
    /// so that does not end it).
    static func flush() -> Bool {
        fflush(nil) == 0
    }

    /// A note for people, on stderr (so stdout stays data): `cairn: <text>`.
    static func note(_ text: String) {
        stderr("cairn: " + text)
    }

    static func stderr(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// A usage error found while running (not while parsing): printed as ArgumentParser prints
    /// its own, and exits with its status (64).
    static func usageError(_ error: ValidationError, command: String? = nil) -> ExitCode {
        let help = command.map { "cairn \($0) --help" } ?? "cairn --help"
        stderr("Error: \(error.message)\n  See '\(help)' for more information.")
        return ExitCode(ExitStatus.usage)
    }

    /// `cairn: <reason>: <message>`, with the error's data (current_version, field, …).
    static func error(_ error: CairnError) {
        var text = "\(error.reason.rawValue): \(error.message)"
        let details = error.data.filter { $0.key != "reason" }.map { "\($0.key): \(plain($0.value))" }
        if !details.isEmpty { text += " (" + details.joined(separator: ", ") + ")" }
        note(text)
    }

    /// A string as itself, any other value as compact JSON.
    static func plain(_ value: JSONValue) -> String {
        value.stringValue ?? value.serialized()
    }

    /// A value as `plain` prints it, `?` when absent.
    static func plainOrUnknown(_ value: JSONValue?) -> String {
        value.map(plain) ?? "?"
    }

    /// The version in a result, `?` when absent.
    static func version(_ result: JSONValue) -> String {
        plainOrUnknown(result["version"])
    }

    /// A block's size against its limit: `chars/limit`.
    static func charsAndLimit(_ block: JSONValue) -> String {
        "\(plainOrUnknown(block["chars"]))/\(plainOrUnknown(block["limit"]))"
    }

    /// Text fit for one table cell: control characters escaped, at most `limit` characters.
    static func cell(_ text: String, limit: Int = 60) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out.count > limit ? String(out.prefix(limit - 1)) + "…" : out
    }

    /// A value for a table cell: compact JSON, shortened.
    static func valueCell(_ value: JSONValue?) -> String {
        guard let value, !value.isNull else { return "-" }
        return cell(value.serialized())
    }

    /// An optional text for a table cell: `-` when absent.
    static func optional(_ value: JSONValue?) -> String {
        guard let text = value?.stringValue else { return "-" }
        return cell(text, limit: 40)
    }
}

/// Columns aligned with two spaces between them; the last column is not padded.
struct Table {
    var headers: [String]
    var rows: [[String]] = []

    func render() -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func format(_ row: [String]) -> String {
            var line = ""
            for (i, cell) in row.enumerated() {
                if i > 0 { line += "  " }
                line += i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
            }
            return line
        }
        return ([format(headers)] + rows.map(format)).joined(separator: "\n")
    }
}

extension JSONValue {
    /// Indented JSON text (two spaces a level), members in their stored order.
    func prettyPrinted() -> String {
        var out: [UInt8] = []
        writePretty(to: &out, indent: 0)
        return String(decoding: out, as: UTF8.self)
    }

    private func writePretty(to out: inout [UInt8], indent: Int) {
        func newline(_ level: Int) {
            out.append(UInt8(ascii: "\n"))
            out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * level))
        }
        switch self {
        case .array(let a) where !a.isEmpty:
            out.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                v.writePretty(to: &out, indent: indent + 1)
            }
            newline(indent)
            out.append(UInt8(ascii: "]"))
        case .object(let o) where !o.isEmpty:
            out.append(UInt8(ascii: "{"))
            for (i, (k, v)) in o.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                JSONValue.writeString(k.string, to: &out)
                out.append(contentsOf: ": ".utf8)
                v.writePretty(to: &out, indent: indent + 1)
            }
            newline(indent)
            out.append(UInt8(ascii: "}"))
        default:
            write(to: &out)
        }
    }
}
