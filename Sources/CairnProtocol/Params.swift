import CairnCore
import OrderedCollections

/// Typed access to a request's `params`, with errors that name the field.
public struct Params: Sendable {
    public let object: JSONObject

    public init(_ object: JSONObject) { self.object = object }

    public subscript(_ name: String) -> JSONValue? {
        guard let v = object[name], !v.isNull else { return nil }
        return v
    }

    func missing(_ name: String) -> CairnError {
        .invalidParams(name, "\(name) is required")
    }

    func wrongType(_ name: String, _ expected: String) -> CairnError {
        .invalidParams(name, "\(name) must be \(expected)")
    }

    public func string(_ name: String) throws(CairnError) -> String {
        guard let v = self[name] else { throw missing(name) }
        guard case .string(let s) = v else { throw wrongType(name, "a string") }
        return s
    }

    public func optionalString(_ name: String) throws(CairnError) -> String? {
        guard let v = self[name] else { return nil }
        guard case .string(let s) = v else { throw wrongType(name, "a string") }
        return s
    }

    public func optionalInt(_ name: String, in range: ClosedRange<Int>? = nil) throws(CairnError) -> Int? {
        guard let v = self[name] else { return nil }
        guard let i = v.intValue else { throw wrongType(name, "an integer") }
        if let range, !range.contains(i) {
            throw CairnError.invalidParams(name, "\(name) must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return i
    }

    public func int(_ name: String, default value: Int, in range: ClosedRange<Int>? = nil) throws(CairnError) -> Int {
        try optionalInt(name, in: range) ?? value
    }

    public func optionalBool(_ name: String) throws(CairnError) -> Bool? {
        guard let v = self[name] else { return nil }
        guard case .bool(let b) = v else { throw wrongType(name, "true or false") }
        return b
    }

    /// Any JSON value, present and not null.
    public func value(_ name: String) throws(CairnError) -> JSONValue {
        guard let v = object[name] else { throw missing(name) }
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
        guard let v = self[name] else { throw missing(name) }
        guard case .object(let o) = v else { throw CairnError(.invalidNamespace, "\(name) must be an object {\"tenant\",\"task\",\"role\"}", data: ["field": .string(name)]) }
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
        guard let v = self[name] else { throw missing(name) }
        guard case .object(let o) = v else { throw CairnError(.invalidNamespace, "\(name) must be an object {\"tenant\",\"task\",\"role\"}", data: ["field": .string(name)]) }
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

    public func optionalTimestamp(_ name: String) throws(CairnError) -> Timestamp? {
        guard let s = try optionalString(name) else { return nil }
        guard let t = Timestamp(rfc3339: s) else { throw wrongType(name, "an RFC 3339 time like 2026-11-22T10:00:00.000Z") }
        return t
    }

    public func stringArray(_ name: String) throws(CairnError) -> [String]? {
        guard let v = self[name] else { return nil }
        guard case .array(let a) = v else { throw wrongType(name, "an array of strings") }
        var out: [String] = []
        for e in a {
            guard case .string(let s) = e else { throw wrongType(name, "an array of strings") }
            out.append(s)
        }
        return out
    }
}
