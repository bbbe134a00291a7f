import Cairn
import CairnRedis
import Crypto
import Synchronization

/// One stored token (never its secret). Its tenant and narrowing are `Name`s: bytes.
public struct TokenRecord: Sendable, Hashable {
    public var id: String
    public var tenant: Name
    public var principal: String
    public var grants: Set<Grant>
    public var task: Name?
    public var role: Name?
    public var createdAt: Timestamp

    func identity(hash: String) -> Identity {
        Identity(
            principal: principal, tenant: tenant.string, grants: grants, task: task?.string, role: role?.string, tokenHash: hash,
            tokenID: id)
    }
}

/// Tokens live in Redis as hashes of their secrets, so every `cairnd` on the same Redis shares
/// them and a revocation reaches all of them.
///
/// Keys (all under one hash tag, `{~tokens}`, which no encoded tenant can equal since `~` is
/// always percent-encoded in tenants):
/// `P:{~tokens}:s:<sha256>` hash (id, tenant, principal, grants, task, role, created),
/// `P:{~tokens}:id:<id>` the sha256 of that token, `P:{~tokens}:t:<tenant>` set of ids.
public final class TokenStore: Sendable {
    let redis: RedisPool
    let prefix: String
    /// Token hashes known valid, with the pub/sub generation they were verified under.
    private let verified = Mutex<[String: Int]>([:])
    private let invalidations = Atomic<Int>(0)
    private let revocationHandlers = Mutex<[@Sendable (String) -> Void]>([])

    public init(redis: RedisPool, keyPrefix: String = "cairn") {
        self.redis = redis
        prefix = "\(keyPrefix):{~tokens}"
    }

    func secretKey(_ hash: String) -> String { "\(prefix):s:\(hash)" }
    func idKey(_ id: String) -> String { "\(prefix):id:\(id)" }
    func tenantKey(_ tenant: String) -> String { "\(prefix):t:\(KeyLayout.encode(tenant))" }

    /// SHA-256 of a token, in hex.
    public static func hash(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { byte in
            let s = String(byte, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
    }

    static func randomHex(bytes: Int) -> String {
        var rng = SystemRandomNumberGenerator()  // getrandom(2): cryptographically secure
        return (0..<bytes).map { _ in
            let s = String(UInt8.random(in: 0...255, using: &rng), radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
    }

    /// Mints a token; the secret is returned once and only its hash is kept.
    public func create(
        tenant: String, principal: String, grants: Set<Grant>, task: String?, role: String?
    ) async throws(CairnError) -> (token: String, record: TokenRecord) {
        let id = "tk_" + TokenStore.randomHex(bytes: 8)
        let token = "cairn_\(id)_\(TokenStore.randomHex(bytes: 32))"
        let hash = TokenStore.hash(token)
        let (secretKey, idKey, tenantKey) = (self.secretKey(hash), self.idKey(id), self.tenantKey(tenant))
        let created = try await call { connection -> Int64 in
            let now = Store.milliseconds(fromTime: try await connection.run(["TIME"]))
            var fields = [
                "HSET", secretKey, "id", id, "tenant", tenant, "principal", principal,
                "grants", grants.sorted().map(\.rawValue).joined(separator: ","), "created", String(now),
            ]
            if let task { fields += ["task", task] }
            if let role { fields += ["role", role] }
            let outcome = try await connection.transaction([RedisCommand(fields), ["SET", idKey, hash], ["SADD", tenantKey, id]])
            guard case .committed = outcome else { throw RedisError(.unexpectedReply, "token transaction aborted") }
            return now
        }
        let record = TokenRecord(
            id: id, tenant: Name(tenant), principal: principal, grants: grants, task: task.map { Name($0) },
            role: role.map { Name($0) }, createdAt: Timestamp(millisecondsSince1970: created))
        return (token, record)
    }

    /// The identity of a presented token, or nil when it is unknown or revoked.
    public func identity(forToken token: String) async throws(CairnError) -> Identity? {
        let hash = TokenStore.hash(token)
        let key = secretKey(hash)
        let fields = try await read(["HGETALL", key]).fieldMap ?? [:]
        return TokenStore.record(fields)?.identity(hash: hash)
    }

    /// The channel `token.revoke` publishes a revoked token's hash on (inside its `MULTI`).
    public var revocationChannel: String { "\(prefix):revoked" }

    /// Whether a token (by hash) is still valid.
    ///
    /// With `generation` (the change feed's pub/sub generation, nil while it is disconnected), a
    /// token verified under the same generation is known valid without asking Redis: every
    /// revocation publishes on `revocationChannel`, which that same connection hears and turns
    /// into `invalidate`. A reconnect starts a new generation (messages may have been lost in
    /// between), so every token is checked against Redis again once.
    public func isValid(hash: String, generation: Int? = nil) async throws(CairnError) -> Bool {
        if let generation, verified.withLock({ $0[hash] }) == generation { return true }
        // A revocation heard while EXISTS was under way must not be overwritten by its answer.
        let invalidationsBefore = invalidations.load(ordering: .sequentiallyConsistent)
        let valid = try await read(["EXISTS", secretKey(hash)]).int == 1
        if valid, let generation, invalidations.load(ordering: .sequentiallyConsistent) == invalidationsBefore {
            verified.withLock { cache in
                if cache.count >= 100_000 { cache.removeAll() }  // bounded
                cache[hash] = generation
            }
        }
        return valid
    }

    /// Forgets that a token was verified (it was revoked).
    public func invalidate(hash: String) {
        invalidations.add(1, ordering: .sequentiallyConsistent)
        _ = verified.withLock { $0.removeValue(forKey: hash) }
        for handler in revocationHandlers.withLock({ $0 }) { handler(hash) }
    }

    /// Calls `handler` with the hash of every token revoked (here, or heard from another
    /// instance), so that what still runs under it (subscriptions) can end.
    public func onRevocation(_ handler: @escaping @Sendable (String) -> Void) {
        revocationHandlers.withLock { $0.append(handler) }
    }

    func read(_ command: RedisCommand) async throws(CairnError) -> RedisValue {
        try await redis.read(command)
    }

    /// Revokes a token of the revoker's tenant (any tenant for a server admin) inside the
    /// revoker's scope (`Identity.covers`). False when no such token is visible to it: the same
    /// answer whether the token does not exist, belongs to another tenant, or lies outside the
    /// revoker's scope.
    public func revoke(id: String, by revoker: Identity) async throws(CairnError) -> Bool {
        let tenant = revoker.tenant
        let idKey = self.idKey(id)
        let prefix = self.prefix
        let revoked = try await call { connection -> String? in
            guard let hash = try await connection.send(["GET", idKey]).checked().string else { return nil }
            let secretKey = "\(prefix):s:\(hash)"
            let fields = try await connection.send(["HMGET", secretKey, "tenant", "task", "role"]).checked().array ?? []
            guard fields.count == 3, let owner = fields[0].string else { return nil }
            if let tenant, tenant != Name(owner) { return nil }  // by bytes: a look-alike tenant is another tenant
            let task: Name? = fields[1].string.map { Name($0) }
            let role: Name? = fields[2].string.map { Name($0) }
            guard revoker.covers(tokenTask: task, tokenRole: role) else { return nil }
            _ = try await connection.transaction([
                ["DEL", secretKey], ["DEL", idKey], ["SREM", "\(prefix):t:\(KeyLayout.encode(owner))", id],
                ["PUBLISH", "\(prefix):revoked", hash],
            ])
            return hash
        }
        guard let hash = revoked else { return false }
        invalidate(hash: hash)
        return true
    }

    /// Every live token of a tenant, oldest first.
    public func list(tenant: String) async throws(CairnError) -> [TokenRecord] {
        let tenantKey = self.tenantKey(tenant)
        let prefix = self.prefix
        return try await call { connection -> [TokenRecord] in
            let ids = (try await connection.send(["SMEMBERS", tenantKey]).checked().array ?? []).compactMap(\.string)
            guard !ids.isEmpty else { return [] }
            let hashes = try await connection.pipeline(ids.map { ["GET", "\(prefix):id:\($0)"] }).map(\.string)
            let present = hashes.compactMap { $0 }
            let records = try await connection.pipeline(present.map { ["HGETALL", "\(prefix):s:\($0)"] })
                .compactMap { TokenStore.record($0.fieldMap ?? [:]) }
            return records.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        }
    }

    static func record(_ fields: [String: String]) -> TokenRecord? {
        guard let id = fields["id"], let tenant = fields["tenant"], let principal = fields["principal"] else { return nil }
        let grants = Set((fields["grants"] ?? "").split(separator: ",").compactMap { Grant(rawValue: String($0)) })
        return TokenRecord(
            id: id, tenant: Name(tenant), principal: principal, grants: grants, task: fields["task"].map { Name($0) },
            role: fields["role"].map { Name($0) },
            createdAt: Timestamp(millisecondsSince1970: fields["created"].flatMap { Int64($0) } ?? 0))
    }

    func call<T: Sendable>(_ body: (RedisChannelConnection) async throws -> T) async throws(CairnError) -> T {
        try await redis.run(body)
    }
}
