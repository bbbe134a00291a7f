import Cairn
import CairnProtocol

/// `ping`, `auth`, and the `token.*` methods.
enum SessionMethods {
    static func register(in table: inout MethodTable) {
        table.register(RPC.Ping.self) { _, _ throws(CairnError) in RPC.Ping.encodeResult(true) }

        table.register(RPC.Auth.self) { auth, session throws(CairnError) in
            let context = session.context
            if context.configuration.adminTokenHashes.contains(TokenStore.hash(auth.token)) {
                session.identity = .serverAdmin(principal: "admin")
            } else if let identity = try await context.tokens.identity(forToken: auth.token) {
                session.identity = identity
            } else {
                session.identity = context.configuration.auth == .none ? .serverAdmin(principal: "anonymous") : nil
                throw CairnError(.unauthenticated, "unknown or revoked token")
            }
            let identity = session.identity!
            session.logger.info("authenticated as \(identity.principal) (\(identity.tokenID ?? "server admin token"))")
            return RPC.Auth.encodeResult(sessionInfo(identity))
        }

        table.register(RPC.TokenCreate.self) { create, session throws(CairnError) in
            // The type checked every name against `grantNames`, which are `Grant`'s raw values.
            let grants = Set(create.grants.compactMap(Grant.init(rawValue:)))
            let caller = try session.caller
            // A narrowed admin may only mint tokens inside its own narrowing.
            let ns = try Namespace(
                tenant: create.tenant, task: create.task ?? caller.task?.string, role: create.role ?? caller.role?.string)
            try caller.authorize(ns, anyOf: [.admin])
            let (token, record) = try await session.context.tokens.create(
                tenant: create.tenant, principal: create.principal, grants: grants, task: ns.task?.string, role: ns.role?.string)
            session.logger.info("token \(record.id) created for \(create.principal) on tenant \(create.tenant) by \(caller.principal)")
            return RPC.TokenCreate.encodeResult(CreatedToken(token: token, tokenID: record.id))
        }

        table.register(RPC.TokenRevoke.self) { revoke, session throws(CairnError) in
            let caller = try session.caller
            try caller.require(anyOf: [.admin])
            guard try await session.context.tokens.revoke(id: revoke.tokenID, by: caller) else {
                throw CairnError(.notFound, "no token \(revoke.tokenID.debugDescription) in this tenant")
            }
            session.logger.info("token \(revoke.tokenID) revoked by \(caller.principal)")
            return RPC.TokenRevoke.encodeResult(())
        }

        table.register(RPC.TokenList.self) { list, session throws(CairnError) in
            let caller = try session.caller
            try caller.authorize(tenant: list.tenant)
            try caller.require(anyOf: [.admin])
            // A narrowed token sees only the tokens inside its own scope.
            let records = try await session.context.tokens.list(tenant: list.tenant)
                .filter { caller.covers(tokenTask: $0.task, tokenRole: $0.role) }
            return RPC.TokenList.encodeResult(records.map(tokenInfo))
        }
    }

    /// Who `auth` says the connection is: grants in their fixed order.
    static func sessionInfo(_ identity: Identity) -> SessionInfo {
        SessionInfo(
            principal: identity.principal, tenant: identity.tenant?.string, grants: identity.grants.sorted().map(\.rawValue),
            task: identity.task?.string, role: identity.role?.string)
    }

    /// A stored token as `token.list` shows it (never the secret).
    static func tokenInfo(_ r: TokenRecord) -> TokenInfo {
        TokenInfo(
            tokenID: r.id, tenant: r.tenant.string, principal: r.principal, grants: r.grants.sorted().map(\.rawValue),
            task: r.task?.string, role: r.role?.string, createdAt: r.createdAt.rfc3339)
    }
}
