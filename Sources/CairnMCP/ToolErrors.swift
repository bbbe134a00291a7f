import CairnCore

/// A failed tool call as the model reads it: `<reason>: <what happened>. <what to do>`.
///
/// Tool failures are results with `isError` (not JSON-RPC errors), so the model sees them and can
/// act; the structured content carries the reason and Cairn's error data for programs.
enum ToolErrors {
    /// What an agent should do after each Cairn reason, in the words a model acts on.
    static func advice(_ error: CairnError) -> String {
        switch error.reason {
        case .noMatch:
            "The text to replace is not in the block as it is now (another agent may have changed it): read the block again (memory_context) and retry with text copied from its current value."
        case .ambiguousMatch:
            "The text occurs more than once\(error.data["lines"].map { " (lines \($0.serialized()))" } ?? ""): give a longer `old` that occurs exactly once."
        case .versionConflict:
            "Someone wrote since the version you gave\(error.currentVersion.map { " (current version \($0))" } ?? ""): read it again, merge your change into the current value, and retry with the new version."
        case .labelTaken:
            "This agent already has a block with that label: use it (memory_context shows it) or choose another label."
        case .readOnly:
            "The block is read-only: it cannot be edited with this token. Write your notes into another block."
        case .limitExceeded:
            "The edit would make the block longer than its limit\(limitDetail(error)): shorten it, e.g. memory_rethink it into a condensed version."
        case .notFound:
            "Nothing by that name exists here: memory_context lists this agent's blocks; memory_create_block makes a new one."
        case .invalidLine:
            "The line number is outside the block: use 0 for the top, -1 for the end, or a line that exists."
        case .forbidden:
            "This session's token may not do that here (missing grant or outside its scope). Do not retry."
        case .unauthenticated:
            "The session's token is missing, wrong or revoked. Do not retry; the operator must give a valid token."
        case .unavailable:
            "Cairn's storage is unreachable right now; nothing was written. Retry in a moment."
        case .connectionFailed:
            "The connection to Cairn broke: a write may or may not have been applied. Read the current state (memory_context, memory_get) before writing again; the next call reconnects."
        case .tooMany:
            "A limit of the server was reached: retry later or ask for less."
        case .wrongKind:
            "That key holds a block (or a plain item): use the memory_* tool for its kind."
        case .versionUnavailable:
            "That version is older than the history kept."
        case .invalidParams, .invalidNamespace, .invalidKey, .invalidValue, .valueTooLarge, .invalidFilter:
            "Fix the argument\(error.field.map { " `\($0)`" } ?? "") and call again."
        default:
            "Report this; retrying may not help."
        }
    }

    static func limitDetail(_ error: CairnError) -> String {
        guard let limit = error.data["limit"] else { return "" }
        let requested = error.data["requested"].map { ", asked for \($0.serialized())" } ?? ""
        return " (\(limit.serialized()) characters\(requested))"
    }

    /// The text of a failed tool call.
    static func text(_ error: CairnError) -> String {
        var message = error.message
        if !message.hasSuffix(".") { message += "." }
        return "\(error.reason.rawValue): \(message) \(advice(error))"
    }

    /// The structured content of a failed tool call: `{"error":{"reason","message","data"}}`.
    static func structured(_ error: CairnError) -> JSONValue {
        var body: JSONValue = ["reason": .string(error.reason.rawValue), "code": .int(error.code), "message": .string(error.message)]
        if !error.data.isEmpty, case .object(var o) = body {
            o["data"] = .object(error.data)
            body = .object(o)
        }
        return ["error": body]
    }
}
