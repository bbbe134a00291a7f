import CairnCore
import CairnProtocol
import OrderedCollections

/// Who the server says the connection is, after `auth`.
public struct SessionInfo: Sendable, Hashable {
    public var principal: String
    public var tenant: String?
    public var grants: [String]
    public var task: String?
    public var role: String?
}

/// A stored token as `token.list` shows it (never the secret).
public struct TokenInfo: Sendable, Hashable {
    public var tokenID: String
    public var tenant: String
    public var principal: String
    public var grants: [String]
    public var task: String?
    public var role: String?
    public var createdAt: String
}

extension CairnClient {
    @discardableResult
    public func ping() async throws(CairnError) -> Bool {
        try await call("ping")["pong"]?.boolValue == true
    }

    @discardableResult
    public func auth(token: String) async throws(CairnError) -> SessionInfo {
        let r = try await call("auth", ["token": .string(token)])
        self.token.withLock { $0 = token }
        return SessionInfo(
            principal: r["principal"]?.stringValue ?? "", tenant: r["tenant"]?.stringValue,
            grants: r["grants"]?.arrayValue?.compactMap(\.stringValue) ?? [], task: r["scope"]?["task"]?.stringValue,
            role: r["scope"]?["role"]?.stringValue)
    }

    /// A params object from the pairs whose value is not nil.
    static func params(_ pairs: KeyValuePairs<String, JSONValue?>) -> JSONValue {
        var o = JSONObject()
        for (k, v) in pairs { if let v { o[k] = v } }
        return .object(o)
    }

    @discardableResult
    public func put(
        _ ns: Namespace, key: String, value: JSONValue, ifVersion: Int? = nil, reason: String? = nil, agent: String? = nil
    ) async throws(CairnError) -> PutResult {
        let r = try await call(
            "put",
            Self.params([
                "ns": Wire.namespace(ns), "key": .string(key), "value": value, "if_version": ifVersion.map(JSONValue.int),
                "reason": reason.map(JSONValue.string), "agent": agent.map(JSONValue.string),
            ]))
        return PutResult(
            version: r["version"]?.intValue ?? 0, createdAt: Wire.decodeTime(r["created_at"]),
            updatedAt: Wire.decodeTime(r["updated_at"]))
    }

    public func get(_ ns: Namespace, key: String, version: Int? = nil) async throws(CairnError) -> Item? {
        let r = try await call(
            "get", Self.params(["ns": Wire.namespace(ns), "key": .string(key), "version": version.map(JSONValue.int)]))
        return r.isNull ? nil : try Wire.decodeItem(r)
    }

    @discardableResult
    public func delete(
        _ ns: Namespace, key: String, ifVersion: Int? = nil, reason: String? = nil, agent: String? = nil
    ) async throws(CairnError) -> DeleteResult {
        let r = try await call(
            "delete",
            Self.params([
                "ns": Wire.namespace(ns), "key": .string(key), "if_version": ifVersion.map(JSONValue.int),
                "reason": reason.map(JSONValue.string), "agent": agent.map(JSONValue.string),
            ]))
        return DeleteResult(version: r["version"]?.intValue ?? 0, existed: r["existed"]?.boolValue ?? false)
    }

    public func search(
        _ scope: Scope, filter: JSONValue? = nil, query: String? = nil, limit: Int? = nil, offset: Int? = nil
    ) async throws(CairnError) -> [Item] {
        let r = try await call(
            "search",
            Self.params([
                "scope": Wire.scope(scope), "filter": filter, "query": query.map(JSONValue.string),
                "limit": limit.map(JSONValue.int), "offset": offset.map(JSONValue.int),
            ]))
        var items: [Item] = []
        for json in r["items"]?.arrayValue ?? [] { items.append(try Wire.decodeItem(json)) }
        return items
    }

    public func listNamespaces(_ scope: Scope, limit: Int? = nil, offset: Int? = nil) async throws(CairnError) -> [Namespace] {
        let r = try await call(
            "list_namespaces",
            Self.params(["scope": Wire.scope(scope), "limit": limit.map(JSONValue.int), "offset": offset.map(JSONValue.int)]))
        var list: [Namespace] = []
        for json in r["namespaces"]?.arrayValue ?? [] { list.append(try Wire.decodeNamespace(json)) }
        return list
    }

    public func history(_ ns: Namespace, key: String, limit: Int? = nil, beforeVersion: Int? = nil) async throws(CairnError) -> [HistoryEntry] {
        let r = try await call(
            "history",
            Self.params([
                "ns": Wire.namespace(ns), "key": .string(key), "limit": limit.map(JSONValue.int),
                "before_version": beforeVersion.map(JSONValue.int),
            ]))
        var entries: [HistoryEntry] = []
        for json in r["entries"]?.arrayValue ?? [] { entries.append(try Wire.decodeHistory(json)) }
        return entries
    }

    public func log(
        _ scope: Scope, since: Timestamp? = nil, until: Timestamp? = nil, by: String? = nil, after: String? = nil,
        limit: Int? = nil
    ) async throws(CairnError) -> [LogEntry] {
        let r = try await call(
            "log",
            Self.params([
                "scope": Wire.scope(scope), "since": since.map(Wire.timestamp), "until": until.map(Wire.timestamp),
                "by": by.map(JSONValue.string), "after": after.map(JSONValue.string), "limit": limit.map(JSONValue.int),
            ]))
        var entries: [LogEntry] = []
        for json in r["entries"]?.arrayValue ?? [] { entries.append(try Wire.decodeLog(json)) }
        return entries
    }

    /// Mints a token; the secret in the answer is shown once.
    public func createToken(
        tenant: String, principal: String, grants: [String], task: String? = nil, role: String? = nil
    ) async throws(CairnError) -> (token: String, tokenID: String) {
        var scope = JSONObject()
        if let task { scope["task"] = .string(task) }
        if let role { scope["role"] = .string(role) }
        let r = try await call(
            "token.create",
            Self.params([
                "tenant": .string(tenant), "principal": .string(principal), "grants": .array(grants.map(JSONValue.string)),
                "scope": scope.isEmpty ? nil : .object(scope),
            ]))
        return (r["token"]?.stringValue ?? "", r["token_id"]?.stringValue ?? "")
    }

    public func revokeToken(id: String) async throws(CairnError) {
        _ = try await call("token.revoke", ["token_id": .string(id)])
    }

    public func listTokens(tenant: String) async throws(CairnError) -> [TokenInfo] {
        let r = try await call("token.list", ["tenant": .string(tenant)])
        return (r["tokens"]?.arrayValue ?? []).map { t in
            TokenInfo(
                tokenID: t["token_id"]?.stringValue ?? "", tenant: t["tenant"]?.stringValue ?? "",
                principal: t["principal"]?.stringValue ?? "", grants: t["grants"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                task: t["scope"]?["task"]?.stringValue, role: t["scope"]?["role"]?.stringValue,
                createdAt: t["created_at"]?.stringValue ?? "")
        }
    }
}
