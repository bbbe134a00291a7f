import CairnCore
import CairnProtocol
import OrderedCollections

extension CairnClient {
    /// Sends one method value and returns its typed result: the request is `method.params`, the
    /// answer is read by `M.decodeResult`. Writes get a request id and, like reads, are retried
    /// as `call` retries them.
    @discardableResult
    public func send<M: RPCMethod>(_ method: M) async throws(CairnError) -> M.Result {
        try M.decodeResult(try await call(method))
    }

    /// Sends one method value and returns the server's `result` as it came (the CLI prints it).
    @discardableResult
    public func call<M: RPCMethod>(_ method: M) async throws(CairnError) -> JSONValue {
        try await call(M.name, .object(method.params))
    }

    @discardableResult
    public func ping() async throws(CairnError) -> Bool {
        try await send(RPC.Ping())
    }

    @discardableResult
    public func auth(token: String) async throws(CairnError) -> SessionInfo {
        let info = try await send(RPC.Auth(token: token))
        self.token.withLock { $0 = token }
        return info
    }

    @discardableResult
    public func put(
        _ ns: Namespace, key: String, value: JSONValue, ifVersion: Int? = nil, reason: String? = nil, agent: String? = nil
    ) async throws(CairnError) -> PutResult {
        try await send(RPC.Put(ns, key: key, value: value, ifVersion: ifVersion, reason: reason, agent: agent))
    }

    public func get(_ ns: Namespace, key: String, version: Int? = nil) async throws(CairnError) -> Item? {
        try await send(RPC.Get(ns, key: key, version: version))
    }

    @discardableResult
    public func delete(
        _ ns: Namespace, key: String, ifVersion: Int? = nil, reason: String? = nil, agent: String? = nil
    ) async throws(CairnError) -> DeleteResult {
        try await send(RPC.Delete(ns, key: key, ifVersion: ifVersion, reason: reason, agent: agent))
    }

    /// `filter` and `query` as a caller writes them; one the server would refuse is refused
    /// here with the server's error, before anything is sent.
    public func search(
        _ scope: Scope, filter: JSONValue? = nil, query: String? = nil, limit: Int? = nil, offset: Int? = nil
    ) async throws(CairnError) -> [Item] {
        try await send(try RPC.Search(scope, filter: filter, query: query, limit: limit, offset: offset))
    }

    public func listNamespaces(_ scope: Scope, limit: Int? = nil, offset: Int? = nil) async throws(CairnError) -> [Namespace] {
        try await send(
            RPC.ListNamespaces(scope, limit: limit ?? RPC.ListNamespaces.defaultLimit, offset: offset ?? 0))
    }

    public func history(_ ns: Namespace, key: String, limit: Int? = nil, beforeVersion: Int? = nil) async throws(CairnError) -> [HistoryEntry] {
        try await send(RPC.History(ns, key: key, limit: limit ?? RPC.History.defaultLimit, beforeVersion: beforeVersion))
    }

    public func log(
        _ scope: Scope, since: Timestamp? = nil, until: Timestamp? = nil, by: String? = nil, after: String? = nil,
        limit: Int? = nil
    ) async throws(CairnError) -> [LogEntry] {
        try await send(RPC.Log(scope, since: since, until: until, by: by, after: after, limit: limit ?? RPC.Log.defaultLimit))
    }

    /// Mints a token; the secret in the answer is shown once.
    public func createToken(
        tenant: String, principal: String, grants: [String], task: String? = nil, role: String? = nil
    ) async throws(CairnError) -> (token: String, tokenID: String) {
        let created = try await send(RPC.TokenCreate(tenant: tenant, principal: principal, grants: grants, task: task, role: role))
        return (created.token, created.tokenID)
    }

    public func revokeToken(id: String) async throws(CairnError) {
        try await send(RPC.TokenRevoke(tokenID: id))
    }

    public func listTokens(tenant: String) async throws(CairnError) -> [TokenInfo] {
        try await send(RPC.TokenList(tenant: tenant))
    }
}
