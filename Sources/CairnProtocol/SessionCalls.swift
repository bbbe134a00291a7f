import CairnCore
import OrderedCollections

// MARK: - Sessions and tokens: ping, auth, token.*

extension RPC {
    public struct Ping: RPCResultEncoding {
        public static let name = "ping"
        public static let isReadOnly = true
        public static let needsIdentity = false
        public static let paramNames: DeclaredParams = []

        public init() {}
        public init(checked p: Params) throws(CairnError) {}
        public var params: JSONObject { [:] }

        /// Whether the server answered `{"pong":true}`.
        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> Bool { r["pong"]?.boolValue == true }
        public static func encodeResult(_ r: Bool) -> JSONValue { ["pong": .bool(r)] }
    }

    public struct Auth: RPCResultEncoding {
        public static let name = "auth"
        public static let needsIdentity = false
        public static let paramNames: DeclaredParams = ["token"]
        public var token: String

        public init(token: String) { self.token = token }
        public init(checked p: Params) throws(CairnError) { token = try p.string("token") }
        public var params: JSONObject { ["token": .string(token)] }

        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> SessionInfo {
            SessionInfo(
                principal: r["principal"]?.stringValue ?? "", tenant: r["tenant"]?.stringValue,
                grants: r["grants"]?.arrayValue?.compactMap(\.stringValue) ?? [], task: r["scope"]?["task"]?.stringValue,
                role: r["scope"]?["role"]?.stringValue)
        }

        /// `{"principal","tenant","scope","grants"}`: `tenant` null for a server admin, `scope`
        /// null when the token is not narrowed.
        public static func encodeResult(_ r: SessionInfo) -> JSONValue {
            [
                "principal": .string(r.principal), "tenant": r.tenant.map(JSONValue.string) ?? .null,
                "scope": Wire.tokenScope(task: r.task, role: r.role), "grants": .array(r.grants.map(JSONValue.string)),
            ]
        }
    }

    /// Mints a token; its secret is in the answer only.
    public struct TokenCreate: RPCResultEncoding {
        public static let name = "token.create"
        public static let paramNames: DeclaredParams = ["tenant", "principal", "grants", "scope"]
        /// The grants a token may carry, as the protocol names them.
        public static let grantNames = ["read", "append", "write", "admin"]
        public var tenant: String
        public var principal: String
        /// A non-empty subset of `grantNames`, in the order given.
        public var grants: [String]
        /// The token's narrowing (nil: the caller's own).
        public var task: String?
        public var role: String?

        public init(tenant: String, principal: String, grants: [String], task: String? = nil, role: String? = nil) {
            self.tenant = tenant
            self.principal = principal
            self.grants = grants
            self.task = task
            self.role = role
        }

        public init(checked p: Params) throws(CairnError) {
            tenant = try p.namespaceComponent("tenant")
            principal = try p.key("principal")
            guard let names = try p.stringArray("grants"), !names.isEmpty else {
                throw CairnError.invalidParams("grants", "grants must be a non-empty array of read, append, write, admin")
            }
            for name in names where !Self.grantNames.contains(where: { $0.utf8.elementsEqual(name.utf8) }) {
                throw CairnError.invalidParams("grants", "unknown grant \(name.debugDescription); use read, append, write or admin")
            }
            grants = names
            if let scope = try p.optionalValue("scope") {
                guard case .object(let o) = scope else { throw CairnError.invalidParams("scope", "scope must be an object {\"task\",\"role\"}") }
                // A misspelt member must not mint a wider token than asked for.
                let inner = try Params.checked(o, declared: ["task", "role"], fieldPrefix: "scope.", method: Self.name)
                task = try inner.optionalString("task")
                role = try inner.optionalString("role")
                if let task { try Namespace.validateComponent(task, field: "scope.task") }
                if let role { try Namespace.validateComponent(role, field: "scope.role") }
            }
        }

        public var params: JSONObject {
            var o: JSONObject = [
                "tenant": .string(tenant), "principal": .string(principal), "grants": .array(grants.map(JSONValue.string)),
            ]
            var scope = JSONObject()
            scope.include("task", task.map(JSONValue.string))
            scope.include("role", role.map(JSONValue.string))
            if !scope.isEmpty { o["scope"] = .object(scope) }
            return o
        }

        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> CreatedToken {
            CreatedToken(token: r["token"]?.stringValue ?? "", tokenID: r["token_id"]?.stringValue ?? "")
        }

        public static func encodeResult(_ r: CreatedToken) -> JSONValue { ["token": .string(r.token), "token_id": .string(r.tokenID)] }
    }

    public struct TokenRevoke: RPCResultEncoding {
        public typealias Result = Void
        public static let name = "token.revoke"
        public static let paramNames: DeclaredParams = ["token_id"]
        public var tokenID: String

        public init(tokenID: String) { self.tokenID = tokenID }
        public init(checked p: Params) throws(CairnError) { tokenID = try p.string("token_id") }
        public var params: JSONObject { ["token_id": .string(tokenID)] }
    }

    public struct TokenList: RPCResultEncoding {
        public static let name = "token.list"
        public static let paramNames: DeclaredParams = ["tenant"]
        public var tenant: String

        public init(tenant: String) { self.tenant = tenant }
        public init(checked p: Params) throws(CairnError) { tenant = try p.namespaceComponent("tenant") }
        public var params: JSONObject { ["tenant": .string(tenant)] }

        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> [TokenInfo] {
            (r["tokens"]?.arrayValue ?? []).map { t in
                TokenInfo(
                    tokenID: t["token_id"]?.stringValue ?? "", tenant: t["tenant"]?.stringValue ?? "",
                    principal: t["principal"]?.stringValue ?? "", grants: t["grants"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                    task: t["scope"]?["task"]?.stringValue, role: t["scope"]?["role"]?.stringValue,
                    createdAt: t["created_at"]?.stringValue ?? "")
            }
        }

        public static func encodeResult(_ r: [TokenInfo]) -> JSONValue {
            let tokens: [JSONValue] = r.map { t in
                [
                    "token_id": .string(t.tokenID), "tenant": .string(t.tenant), "principal": .string(t.principal),
                    "grants": .array(t.grants.map(JSONValue.string)), "scope": Wire.tokenScope(task: t.task, role: t.role),
                    "created_at": .string(t.createdAt),
                ]
            }
            return ["tokens": .array(tokens)]
        }
    }
}

/// Who the server says the connection is, after `auth`.
public struct SessionInfo: Sendable, Hashable {
    public var principal: String
    public var tenant: String?
    public var grants: [String]
    public var task: String?
    public var role: String?

    public init(principal: String, tenant: String?, grants: [String], task: String?, role: String?) {
        self.principal = principal
        self.tenant = tenant
        self.grants = grants
        self.task = task
        self.role = role
    }
}

/// `token.create`'s answer: the secret (shown once) and the id to revoke it by.
public struct CreatedToken: Sendable, Hashable {
    public var token: String
    public var tokenID: String

    public init(token: String, tokenID: String) {
        self.token = token
        self.tokenID = tokenID
    }
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

    public init(
        tokenID: String, tenant: String, principal: String, grants: [String], task: String?, role: String?, createdAt: String
    ) {
        self.tokenID = tokenID
        self.tenant = tenant
        self.principal = principal
        self.grants = grants
        self.task = task
        self.role = role
        self.createdAt = createdAt
    }
}
