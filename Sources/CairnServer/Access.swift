import Cairn
import CairnProtocol
import OrderedCollections

/// What a token allows.
public enum Grant: String, Sendable, Hashable, CaseIterable, Comparable {
    /// get, search, list_namespaces, history, log, subscribe, block reads, agent.context.
    case read
    /// block.insert, and put with if_version 0.
    case append
    /// All data writes, attach, detach (covers what append allows).
    case write
    /// Read-only override, limits, tokens of its tenant.
    case admin

    public static func < (a: Grant, b: Grant) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// Who a connection acts as, after `auth` (or by configuration).
public struct Identity: Sendable, Hashable {
    public var principal: String
    /// The tenant the identity is bound to; nil for server-wide identities (configured admin
    /// tokens, `auth: none`). A `Name`: it matches only the tenant with the same bytes.
    public var tenant: Name?
    public var grants: Set<Grant>
    /// A token narrowed to a task and/or a role may only touch namespaces with exactly those
    /// (byte for byte).
    public var task: Name?
    public var role: Name?
    /// The stored token's hash, checked again on every request so that a revocation takes
    /// effect at once; nil for identities that are not stored tokens.
    public var tokenHash: String?
    public var tokenID: String?

    public init(
        principal: String, tenant: String?, grants: Set<Grant>, task: String? = nil, role: String? = nil,
        tokenHash: String? = nil, tokenID: String? = nil
    ) {
        self.principal = principal
        self.tenant = tenant.map { Name($0) }
        self.grants = grants
        self.task = task.map { Name($0) }
        self.role = role.map { Name($0) }
        self.tokenHash = tokenHash
        self.tokenID = tokenID
    }

    /// Every grant on every tenant.
    public static func serverAdmin(principal: String) -> Identity {
        Identity(principal: principal, tenant: nil, grants: Set(Grant.allCases))
    }

    /// The scope the identity may see in `tenant`.
    func allowedScope(in tenant: Name) -> Scope? {
        try? Scope(tenant: tenant, task: task.map { .equals($0) } ?? .any, role: role.map { .equals($0) } ?? .any)
    }

    /// The same answer whether or not anything exists in the other tenant.
    static func foreignTenant() -> CairnError {
        CairnError(.forbidden, "this token may not access that tenant")
    }

    /// Checks that the identity may act on `tenant` at all.
    public func authorize(tenant other: Name) throws(CairnError) {
        if let tenant, tenant != other { throw Identity.foreignTenant() }
    }

    /// Checks that the identity may act on the tenant named `other` at all.
    public func authorize(tenant other: String) throws(CairnError) {
        try authorize(tenant: Name(other))
    }

    /// Checks the tenant, the task/role narrowing, and that one of `anyOf` is granted.
    public func authorize(_ ns: Namespace, anyOf needed: [Grant]) throws(CairnError) {
        try authorize(tenant: ns.tenant)
        if let task, ns.task != task {
            throw CairnError(.forbidden, "this token is limited to task \(task.debugDescription)")
        }
        if let role, ns.role != role {
            throw CairnError(.forbidden, "this token is limited to role \(role.debugDescription)")
        }
        try require(anyOf: needed)
    }

    /// Checks that `scope` lies inside what the identity may see, and the grant.
    public func authorize(_ scope: Scope, anyOf needed: [Grant]) throws(CairnError) {
        try authorize(tenant: scope.tenant)
        if let allowed = allowedScope(in: scope.tenant), !allowed.covers(scope) {
            let limits = [task.map { "task \($0.debugDescription)" }, role.map { "role \($0.debugDescription)" }]
                .compactMap { $0 }.joined(separator: " and ")
            throw CairnError(.forbidden, "this token is limited to \(limits); name it in the scope")
        }
        try require(anyOf: needed)
    }

    /// Whether a token narrowed to `task` and `role` (nil: not narrowed) lies inside this
    /// identity's own narrowing: the only tokens a narrowed identity, even with `admin`, may
    /// list or revoke. Each component this identity is narrowed to, the other token must be
    /// narrowed to the same (byte for byte); a token wider than this one is outside.
    public func covers(tokenTask: Name?, tokenRole: Name?) -> Bool {
        Identity.within(task, tokenTask) && Identity.within(role, tokenRole)
    }

    static func within(_ limit: Name?, _ component: Name?) -> Bool {
        guard let limit else { return true }
        guard let component else { return false }
        return limit == component  // by bytes
    }

    public func require(anyOf needed: [Grant]) throws(CairnError) {
        guard needed.contains(where: grants.contains) else {
            let names = needed.map(\.rawValue).joined(separator: "\" or \"")
            throw CairnError(.forbidden, "this token lacks the \"\(names)\" grant", data: ["grant": .string(needed[0].rawValue)])
        }
    }

    public var json: JSONValue {
        [
            "principal": .string(principal), "tenant": tenant.map { .string($0.string) } ?? .null,
            "scope": Identity.scopeJSON(task: task, role: role), "grants": Identity.grantsJSON(grants),
        ]
    }

    /// A token's narrowing as the protocol shows it: `{"task","role"}`, or null when none.
    static func scopeJSON(task: Name?, role: Name?) -> JSONValue {
        guard task != nil || role != nil else { return .null }
        var o: JSONObject = [:]
        if let task { o["task"] = .string(task.string) }
        if let role { o["role"] = .string(role.string) }
        return .object(o)
    }

    static func grantsJSON(_ grants: Set<Grant>) -> JSONValue {
        .array(grants.sorted().map { .string($0.rawValue) })
    }
}
