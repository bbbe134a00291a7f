import CairnCore
import OrderedCollections

/// Typed access to a request's `params`, with errors that name the field.
///
/// Made by `checked(_:declared:)`, it holds only members the method defines, and a method that
/// reads a name it did not declare gets `internal_error` (a bug, found by the first test that
/// runs it) instead of a value no client could ever have sent.
public struct Params: Sendable {
    public let object: JSONObject
    /// The names the method defines; nil when unchecked (a nested object read field by field).
    let declared: DeclaredParams?
    /// Put before field names in errors (`"scope."` for a nested object).
    let fieldPrefix: String

    public init(_ object: JSONObject) {
        self.object = object
        declared = nil
        fieldPrefix = ""
    }

    init(_ object: JSONObject, declared: DeclaredParams, fieldPrefix: String) {
        self.object = object
        self.declared = declared
        self.fieldPrefix = fieldPrefix
    }

    /// `object` if every member is one of `declared`; otherwise `invalid_params` naming the
    /// first member that is not (`data.field`, after `fieldPrefix`), and what is accepted.
    public static func checked(
        _ object: JSONObject, declared: DeclaredParams, fieldPrefix: String = "", method: String
    ) throws(CairnError) -> Params {
        if let unknown = declared.firstUnknown(in: object) {
            let accepted = declared.names.isEmpty ? "it takes no params" : "it takes \(declared.names.joined(separator: ", "))"
            throw CairnError.invalidParams(
                fieldPrefix + unknown, "\(method) has no param \((fieldPrefix + unknown).debugDescription); \(accepted)")
        }
        return Params(object, declared: declared, fieldPrefix: fieldPrefix)
    }

    /// The member `name`, present or not (null included); refuses names the method did not declare.
    private func member(_ name: String) throws(CairnError) -> JSONValue? {
        if let declared, !declared.contains(name) {
            throw CairnError(.internalError, "the server reads a param \(name.debugDescription) its method does not declare")
        }
        return object[name]
    }

    /// The member `name` when present and not null.
    public func optionalValue(_ name: String) throws(CairnError) -> JSONValue? {
        guard let v = try member(name), !v.isNull else { return nil }
        return v
    }

    /// Whether the member is there at all (null included).
    public func isPresent(_ name: String) throws(CairnError) -> Bool {
        try member(name) != nil
    }

    func missing(_ name: String) -> CairnError {
        .invalidParams(fieldPrefix + name, "\(fieldPrefix + name) is required")
    }

    func wrongType(_ name: String, _ expected: String) -> CairnError {
        .invalidParams(fieldPrefix + name, "\(fieldPrefix + name) must be \(expected)")
    }

    public func string(_ name: String) throws(CairnError) -> String {
        guard let v = try optionalValue(name) else { throw missing(name) }
        guard case .string(let s) = v else { throw wrongType(name, "a string") }
        return s
    }

    public func optionalString(_ name: String) throws(CairnError) -> String? {
        guard let v = try optionalValue(name) else { return nil }
        guard case .string(let s) = v else { throw wrongType(name, "a string") }
        return s
    }

    public func optionalInt(_ name: String, in range: ClosedRange<Int>? = nil) throws(CairnError) -> Int? {
        guard let v = try optionalValue(name) else { return nil }
        guard let i = v.intValue else { throw wrongType(name, "an integer") }
        if let range, !range.contains(i) {
            throw CairnError.invalidParams(fieldPrefix + name, "\(fieldPrefix + name) must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return i
    }

    public func int(_ name: String, default value: Int, in range: ClosedRange<Int>? = nil) throws(CairnError) -> Int {
        try optionalInt(name, in: range) ?? value
    }

    public func optionalBool(_ name: String) throws(CairnError) -> Bool? {
        guard let v = try optionalValue(name) else { return nil }
        guard case .bool(let b) = v else { throw wrongType(name, "true or false") }
        return b
    }

    /// Any JSON value, present and not null.
    public func value(_ name: String) throws(CairnError) -> JSONValue {
        guard let v = try member(name) else { throw missing(name) }
        if v.isNull { throw CairnError(.invalidValue, "\(name) must not be null", data: ["field": .string(name)]) }
        return v
    }

    /// A key-like name (key, label, agent): a string of 1–512 bytes without control characters.
    public func key(_ name: String) throws(CairnError) -> String {
        let s = try string(name)
        try Key.validate(s, field: name)
        return s
    }

    public func optionalKey(_ name: String) throws(CairnError) -> String? {
        guard let s = try optionalString(name) else { return nil }
        try Key.validate(s, field: name)
        return s
    }

    /// A lone namespace component such as a `tenant` parameter.
    public func namespaceComponent(_ name: String) throws(CairnError) -> String {
        let s = try string(name)
        try Namespace.validateComponent(s, field: name)
        return s
    }

    /// `{"tenant","task"?,"role"?}`; omitted and null components mean absent.
    public func namespace(_ name: String = "ns") throws(CairnError) -> Namespace {
        guard let v = try optionalValue(name) else { throw missing(name) }
        guard case .object(let o) = v else { throw CairnError(.invalidNamespace, "\(name) must be an object {\"tenant\",\"task\",\"role\"}", data: ["field": .string(name)]) }
        try Params.checkNamespaceMembers(o, name)
        func component(_ c: String) throws(CairnError) -> String? {
            switch o[c] {
            case nil, .null?: return nil
            case .string(let s)?: return s
            default: throw CairnError(.invalidNamespace, "\(name).\(c) must be a string", data: ["field": .string("\(name).\(c)")])
            }
        }
        guard let tenant = try component("tenant") else {
            throw CairnError(.invalidNamespace, "\(name).tenant is required", data: ["field": .string("\(name).tenant")])
        }
        return try Namespace(tenant: tenant, task: try component("task"), role: try component("role"), fieldPrefix: "\(name).")
    }

    /// `{"tenant","task"?,"role"?}`: an omitted task/role matches anything, null only absence.
    public func scope(_ name: String = "scope") throws(CairnError) -> Scope {
        guard let v = try optionalValue(name) else { throw missing(name) }
        guard case .object(let o) = v else { throw CairnError(.invalidNamespace, "\(name) must be an object {\"tenant\",\"task\",\"role\"}", data: ["field": .string(name)]) }
        try Params.checkNamespaceMembers(o, name)
        func match(_ c: String) throws(CairnError) -> Scope.Match {
            switch o[c] {
            case nil: return .any
            case .null?: return .absent
            case .string(let s)?: return .equals(Name(s))
            default: throw CairnError(.invalidNamespace, "\(name).\(c) must be a string or null", data: ["field": .string("\(name).\(c)")])
            }
        }
        guard case .string(let tenant)? = o["tenant"] else {
            throw CairnError(.invalidNamespace, "\(name).tenant is required and must be a string", data: ["field": .string("\(name).tenant")])
        }
        return try Scope(tenant: tenant, task: try match("task"), role: try match("role"), fieldPrefix: "\(name).")
    }

    /// The members a namespace or scope object has; any other → `invalid_namespace` naming it
    /// (`{"tenant":"a","taks":"t"}` must not address the tenant-wide namespace).
    static let namespaceMembers = DeclaredParams(["tenant", "task", "role"])

    static func checkNamespaceMembers(_ o: JSONObject, _ name: String) throws(CairnError) {
        guard let unknown = namespaceMembers.firstUnknown(in: o) else { return }
        throw CairnError(
            .invalidNamespace, "\(name) has no member \(unknown.debugDescription); it takes tenant, task and role",
            data: ["field": .string("\(name).\(unknown)")])
    }

    public func optionalTimestamp(_ name: String) throws(CairnError) -> Timestamp? {
        guard let s = try optionalString(name) else { return nil }
        guard let t = Timestamp(rfc3339: s) else { throw wrongType(name, "an RFC 3339 time like 2026-11-22T10:00:00.000Z") }
        return t
    }

    public func stringArray(_ name: String) throws(CairnError) -> [String]? {
        guard let v = try optionalValue(name) else { return nil }
        guard case .array(let a) = v else { throw wrongType(name, "an array of strings") }
        var out: [String] = []
        for e in a {
            guard case .string(let s) = e else { throw wrongType(name, "an array of strings") }
            out.append(s)
        }
        return out
    }
}
