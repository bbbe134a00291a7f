import OrderedCollections

/// Every failure Cairn reports, in the store, the server and the clients alike.
///
/// `reason` is the stable, machine-readable name from the protocol's error table; `message` is
/// for people and says what to do; `data` carries the reason's extra fields (`field`,
/// `current_version`, `limit`, `requested`, `lines`, `retry_after_ms`, …) exactly as they go on
/// the wire.
public struct CairnError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable, Hashable, CaseIterable {
        case parseError = "parse_error"
        case invalidRequest = "invalid_request"
        case lineTooLong = "line_too_long"
        case methodNotFound = "method_not_found"
        case invalidParams = "invalid_params"
        case invalidNamespace = "invalid_namespace"
        case invalidKey = "invalid_key"
        case invalidValue = "invalid_value"
        case valueTooLarge = "value_too_large"
        case invalidFilter = "invalid_filter"
        case invalidLine = "invalid_line"
        case internalError = "internal_error"
        case unauthenticated
        case forbidden
        case notFound = "not_found"
        case versionConflict = "version_conflict"
        case labelTaken = "label_taken"
        case readOnly = "read_only"
        case limitExceeded = "limit_exceeded"
        case noMatch = "no_match"
        case ambiguousMatch = "ambiguous_match"
        case wrongKind = "wrong_kind"
        case versionUnavailable = "version_unavailable"
        case tooMany = "too_many"
        case unavailable
        /// A write was sent to Redis and no answer came back: it may or may not have been applied.
        case outcomeUnknown = "outcome_unknown"
        /// Client side only, never sent by a server: the connection to the server could not be
        /// made or broke before the answer came.
        case connectionFailed = "connection_failed"

        /// The JSON-RPC error code of this reason.
        public var code: Int {
            switch self {
            case .parseError: -32700
            case .invalidRequest, .lineTooLong: -32600
            case .methodNotFound: -32601
            case .invalidParams, .invalidNamespace, .invalidKey, .invalidValue, .valueTooLarge, .invalidFilter,
                .invalidLine:
                -32602
            case .internalError: -32603
            case .unauthenticated: 4001
            case .forbidden: 4003
            case .notFound: 4004
            case .versionConflict, .labelTaken: 4009
            case .readOnly: 4010
            case .limitExceeded: 4011
            case .noMatch: 4012
            case .ambiguousMatch: 4013
            case .wrongKind: 4014
            case .versionUnavailable: 4015
            case .tooMany: 4029
            case .unavailable: 5003
            case .outcomeUnknown: 5004
            case .connectionFailed: -32000
            }
        }
    }

    public var reason: Reason
    public var message: String
    /// Extra fields for `error.data` besides `reason`.
    public var data: JSONObject

    public init(_ reason: Reason, _ message: String, data: JSONObject = [:]) {
        self.reason = reason
        self.message = message
        self.data = data
    }

    public var code: Int { reason.code }
    public var description: String { "\(reason.rawValue): \(message)" }

    /// `data.field`: the parameter that broke a rule.
    public var field: String? { data["field"]?.stringValue }
    /// `data.current_version` of a version conflict.
    public var currentVersion: Int? { data["current_version"]?.intValue }
}

extension CairnError {
    public static func invalidParams(_ field: String, _ message: String) -> CairnError {
        CairnError(.invalidParams, message, data: ["field": .string(field)])
    }

    public static func versionConflict(current: Int, expected: Int) -> CairnError {
        let what = expected == 0 ? "the key already exists" : "expected version \(expected)"
        return CairnError(
            .versionConflict,
            "version conflict: \(what) but the current version is \(current); re-read and retry",
            data: ["current_version": .int(current)])
    }

    /// 5004: the write may or may not have been applied; `what` says what broke.
    public static func outcomeUnknown(_ what: String) -> CairnError {
        CairnError(
            .outcomeUnknown,
            "\(what); the write may or may not have been applied: re-read before writing again, or replay it with the same request_id",
            data: ["retry_after_ms": .int(500)])
    }

    public static func unavailable(_ message: String, retryAfterMs: Int = 100) -> CairnError {
        CairnError(.unavailable, message, data: ["retry_after_ms": .int(retryAfterMs)])
    }
}
