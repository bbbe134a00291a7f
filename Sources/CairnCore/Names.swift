/// Limits on names, from the protocol's "Names" section.
public enum NameLimits {
    /// A namespace component (`tenant`, `task`, `role`): 1 to 128 bytes of UTF-8.
    public static let componentBytes = 128
    /// A key, block label or agent id: 1 to 512 bytes of UTF-8.
    public static let keyBytes = 512
}

enum NameCheck {
    /// Why `text` is not a valid name of at most `maxBytes` bytes, or nil when it is.
    static func problem(_ text: String, maxBytes: Int) -> String? {
        let count = text.utf8.count
        if count == 0 { return "must not be empty" }
        if count > maxBytes { return "is \(count) bytes long; the limit is \(maxBytes) bytes of UTF-8" }
        for scalar in text.unicodeScalars where scalar.value < 0x20 || scalar.value == 0x7F {
            let hex = String(scalar.value, radix: 16, uppercase: true)
            return "contains the control character U+\(String(repeating: "0", count: 4 - hex.count))\(hex)"
        }
        return nil
    }
}

/// Where an item lives: a tenant, optionally narrowed to a task and/or a role.
///
/// A `Namespace` is always valid: the only way to make one checks every component. Its
/// components are `Name`s, so two namespaces are equal exactly when their bytes are.
public struct Namespace: Sendable, Hashable, CustomStringConvertible {
    public let tenant: Name
    public let task: Name?
    public let role: Name?

    /// Validates and builds a namespace. Errors are `invalid_namespace` with `data.field` naming
    /// the bad component (`tenant`, `task` or `role`); `fieldPrefix` is put before it (`ns.`).
    public init(tenant: String, task: String? = nil, role: String? = nil, fieldPrefix: String = "") throws(CairnError) {
        try Namespace.check(tenant, "tenant", fieldPrefix)
        if let task { try Namespace.check(task, "task", fieldPrefix) }
        if let role { try Namespace.check(role, "role", fieldPrefix) }
        self.tenant = Name(tenant)
        self.task = task.map { Name($0) }
        self.role = role.map { Name($0) }
    }

    /// Validates and builds a namespace from names.
    public init(tenant: Name, task: Name? = nil, role: Name? = nil, fieldPrefix: String = "") throws(CairnError) {
        try self.init(tenant: tenant.string, task: task?.string, role: role?.string, fieldPrefix: fieldPrefix)
    }

    /// Checks one namespace component on its own (a `tenant` parameter, say); the error names `field`.
    public static func validateComponent(_ value: String, field: String) throws(CairnError) {
        if let problem = NameCheck.problem(value, maxBytes: NameLimits.componentBytes) {
            throw CairnError(.invalidNamespace, "\(field) \(problem)", data: ["field": .string(field)])
        }
    }

    /// For names read back from storage, which were validated when they were written: skips the
    /// checks. Never use it for input.
    public init(storedTenant tenant: String, task: String?, role: String?) {
        self.tenant = Name(tenant)
        self.task = task.map { Name($0) }
        self.role = role.map { Name($0) }
    }

    /// `init(storedTenant:task:role:)` for a tenant already held as a `Name`.
    public init(storedTenant tenant: Name, task: String?, role: String?) {
        self.tenant = tenant
        self.task = task.map { Name($0) }
        self.role = role.map { Name($0) }
    }

    static func check(_ value: String, _ component: String, _ prefix: String) throws(CairnError) {
        if let problem = NameCheck.problem(value, maxBytes: NameLimits.componentBytes) {
            throw CairnError(
                .invalidNamespace, "namespace \(component) \(problem)",
                data: ["field": .string(prefix + component)])
        }
    }

    public var description: String {
        var parts = ["tenant=\(tenant.debugDescription)"]
        if let task { parts.append("task=\(task.debugDescription)") }
        if let role { parts.append("role=\(role.debugDescription)") }
        return "(" + parts.joined(separator: ", ") + ")"
    }
}

extension Namespace: Comparable {
    /// Namespaces sort by tenant, then task, then role; an absent component sorts first; names
    /// compare by their bytes (UTF-8 byte order is Unicode code point order).
    public static func < (a: Namespace, b: Namespace) -> Bool {
        if a.tenant != b.tenant { return a.tenant < b.tenant }
        if a.task != b.task { return optionalPrecedes(a.task, b.task) }
        return optionalPrecedes(a.role, b.role)
    }

    static func optionalPrecedes(_ a: Name?, _ b: Name?) -> Bool {
        switch (a, b) {
        case (nil, nil): return false
        case (nil, _): return true
        case (_, nil): return false
        case let (x?, y?): return x < y
        }
    }
}

/// A validated key, block label or agent id: 1–512 bytes of UTF-8 without control characters.
public enum Key {
    /// Checks `key`; the error is `invalid_key` naming `field`.
    public static func validate(_ key: String, field: String = "key") throws(CairnError) {
        if let problem = NameCheck.problem(key, maxBytes: NameLimits.keyBytes) {
            throw CairnError(.invalidKey, "\(field) \(problem)", data: ["field": .string(field)])
        }
    }
}

extension Scope.Match {
    /// `.equals` of a name given as text, or `.any` when nil.
    public static func equalsOrAny(_ text: String?) -> Scope.Match { text.map { .equals(Name($0)) } ?? .any }
}

/// A set of namespaces of one tenant, for `search`, `list_namespaces`, `log` and `subscribe`.
public struct Scope: Sendable, Hashable, CustomStringConvertible {
    /// How a scope matches one optional namespace component.
    public enum Match: Sendable, Hashable {
        /// Any value, or absence (the component was omitted from the scope).
        case any
        /// Absence only (the component was `null`).
        case absent
        /// Exactly this value (byte for byte).
        case equals(Name)

        public func matches(_ component: Name?) -> Bool {
            switch self {
            case .any: true
            case .absent: component == nil
            case .equals(let v): component == v
            }
        }
    }

    public let tenant: Name
    public let task: Match
    public let role: Match

    public init(tenant: Name, task: Match = .any, role: Match = .any, fieldPrefix: String = "") throws(CairnError) {
        try self.init(tenant: tenant.string, task: task, role: role, fieldPrefix: fieldPrefix)
    }

    public init(tenant: String, task: Match = .any, role: Match = .any, fieldPrefix: String = "") throws(CairnError) {
        try Namespace.check(tenant, "tenant", fieldPrefix)
        if case .equals(let t) = task { try Namespace.check(t.string, "task", fieldPrefix) }
        if case .equals(let r) = role { try Namespace.check(r.string, "role", fieldPrefix) }
        self.tenant = Name(tenant)
        self.task = task
        self.role = role
    }

    /// The scope that holds exactly one namespace.
    public init(exactly ns: Namespace) {
        tenant = ns.tenant
        task = ns.task.map(Match.equals) ?? .absent
        role = ns.role.map(Match.equals) ?? .absent
    }

    /// Whether `ns` is inside this scope. Components compare whole, never as prefixes:
    /// tenant `a` never matches tenant `ab`.
    public func contains(_ ns: Namespace) -> Bool {
        ns.tenant == tenant && task.matches(ns.task) && role.matches(ns.role)
    }

    /// Whether every namespace of `other` is also in this scope.
    public func covers(_ other: Scope) -> Bool {
        guard other.tenant == tenant else { return false }
        func covers(_ a: Match, _ b: Match) -> Bool {
            switch (a, b) {
            case (.any, _): true
            case (.absent, .absent): true
            case (.equals(let x), .equals(let y)): x == y
            default: false
            }
        }
        return covers(task, other.task) && covers(role, other.role)
    }

    public var description: String {
        func show(_ m: Match) -> String {
            switch m {
            case .any: "*"
            case .absent: "null"
            case .equals(let v): v.debugDescription
            }
        }
        return "(tenant=\(tenant.debugDescription), task=\(show(task)), role=\(show(role)))"
    }
}
