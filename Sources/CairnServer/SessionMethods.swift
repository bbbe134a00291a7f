import Cairn
import CairnProtocol

/// `ping`, `auth`, and the `token.*` methods.
enum SessionMethods {
    static func register(in table: inout MethodTable) {
        table.add("ping", params: [], needsIdentity: false, readOnly: true) { _, _ throws(CairnError) in ["pong": true] }

        table.add("auth", params: ["token"], needsIdentity: false) { session, params throws(CairnError) in
            let token = try params.string("token")
            let context = session.context
            if context.configuration.adminTokenHashes.contains(TokenStore.hash(token)) {
                session.identity = .serverAdmin(principal: "admin")
            } else if let identity = try await context.tokens.identity(forToken: token) {
                session.identity = identity
            } else {
                session.identity = context.configuration.auth == .none ? .serverAdmin(principal: "anonymous") : nil
                throw CairnError(.unauthenticated, "unknown or revoked token")
            }
            let identity = session.identity!
            session.logger.info("authenticated as \(identity.principal) (\(identity.tokenID ?? "server admin token"))")
            return identity.json
        }

        table.add("token.create", params: ["tenant", "principal", "grants", "scope"]) { session, params throws(CairnError) in
            let tenant = try params.namespaceComponent("tenant")
            let principal = try params.key("principal")
            guard let names = try params.stringArray("grants"), !names.isEmpty else {
                throw CairnError.invalidParams("grants", "grants must be a non-empty array of read, append, write, admin")
            }
            var grants = Set<Grant>()
            for name in names {
                guard let grant = Grant(rawValue: name) else {
                    throw CairnError.invalidParams("grants", "unknown grant \(name.debugDescription); use read, append, write or admin")
                }
                grants.insert(grant)
            }
            var task: String?
            var role: String?
            if let scope = try params.optionalValue("scope") {
                guard case .object(let o) = scope else { throw CairnError.invalidParams("scope", "scope must be an object {\"task\",\"role\"}") }
                // A misspelt member must not mint a wider token than asked for.
                let inner = try Params.checked(o, declared: ["task", "role"], fieldPrefix: "scope.", method: "token.create")
                task = try inner.optionalString("task")
                role = try inner.optionalString("role")
                if let task { try Namespace.validateComponent(task, field: "scope.task") }
                if let role { try Namespace.validateComponent(role, field: "scope.role") }
            }
            let caller = try session.caller
            // A narrowed admin may only mint tokens inside its own narrowing.
            let ns = try Namespace(tenant: tenant, task: task ?? caller.task?.string, role: role ?? caller.role?.string)
            try caller.authorize(ns, anyOf: [.admin])
            let (token, record) = try await session.context.tokens.create(
                tenant: tenant, principal: principal, grants: grants, task: ns.task?.string, role: ns.role?.string)
            session.logger.info("token \(record.id) created for \(principal) on tenant \(tenant) by \(caller.principal)")
            return ["token": .string(token), "token_id": .string(record.id)]
        }

        table.add("token.revoke", params: ["token_id"]) { session, params throws(CairnError) in
            let id = try params.string("token_id")
            let caller = try session.caller
            try caller.require(anyOf: [.admin])
            guard try await session.context.tokens.revoke(id: id, by: caller) else {
                throw CairnError(.notFound, "no token \(id.debugDescription) in this tenant")
            }
            session.logger.info("token \(id) revoked by \(caller.principal)")
            return [:]
        }

        table.add("token.list", params: ["tenant"]) { session, params throws(CairnError) in
            let tenant = try params.namespaceComponent("tenant")
            let caller = try session.caller
            try caller.authorize(tenant: tenant)
            try caller.require(anyOf: [.admin])
            // A narrowed token sees only the tokens inside its own scope.
            let records = try await session.context.tokens.list(tenant: tenant)
                .filter { caller.covers(tokenTask: $0.task, tokenRole: $0.role) }
            return ["tokens": .array(records.map(tokenJSON))]
        }
    }

    static func tokenJSON(_ r: TokenRecord) -> JSONValue {
        [
            "token_id": .string(r.id), "tenant": .string(r.tenant.string), "principal": .string(r.principal),
            "grants": Identity.grantsJSON(r.grants), "scope": Identity.scopeJSON(task: r.task, role: r.role),
            "created_at": .string(r.createdAt.rfc3339),
        ]
    }
}
