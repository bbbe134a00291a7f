import CairnCore
import OrderedCollections

/// One protocol method as a value: its name, how the server may run it, its params as typed
/// properties (with their defaults on the type) and the type of its result.
///
/// The server, `CairnClient`, the CLI and cairn-bench all build and read the same values, so a
/// method's names, fields and defaults are written down once, here. Decoding (`init(params:)`)
/// checks everything the server checks before it looks at the caller: unknown members, types,
/// ranges, name rules; encoding (`params`) writes what the decoder reads, leaving out values
/// that equal their defaults, so `Self(params: m.params) == m`.
public protocol RPCMethod: Sendable, Hashable {
    associatedtype Result: Sendable

    /// The `method` of a request, e.g. `"block.insert"`.
    static var name: String { get }
    /// Writes nothing and changes no session state: the server may run it concurrently with
    /// the read-only requests around it on the same connection.
    static var isReadOnly: Bool { get }
    /// Refused with `unauthenticated` until the connection has authenticated.
    static var needsIdentity: Bool { get }
    /// Every `params` member the method defines, in its documented order.
    static var paramNames: DeclaredParams { get }

    /// Decodes and validates params already checked against `paramNames`, in the order the
    /// errors are reported: the first member that breaks a rule is the one named.
    init(checked params: Params) throws(CairnError)

    /// The params object (members equal to their defaults left out).
    var params: JSONObject { get }

    /// Reads the server's `result` (client side).
    static func decodeResult(_ result: JSONValue) throws(CairnError) -> Result
}

extension RPCMethod {
    public static var isReadOnly: Bool { false }
    public static var needsIdentity: Bool { true }

    /// A write: it takes a `request_id`, so it takes effect once however often it is sent.
    public static var isWrite: Bool { paramNames.contains("request_id") }

    /// Decodes a request's params: a member not in `paramNames` → `invalid_params` naming it,
    /// then each member's own rules.
    public init(params: JSONObject) throws(CairnError) {
        try self.init(checked: Params.checked(params, declared: Self.paramNames, method: Self.name))
    }

    /// Two values are the same call when they encode to the same params: names, keys and
    /// values compare by their UTF-8 bytes, as on the wire (a synthesized `==` would compare
    /// `String`s by Unicode equivalence).
    public static func == (a: Self, b: Self) -> Bool { a.params == b.params }
    public func hash(into hasher: inout Hasher) { hasher.combine(params) }

    /// `{"jsonrpc":"2.0","id":…,"method":…,"params":…}` without the newline.
    public func request(id: Int, into out: inout [UInt8]) {
        RPCCoding.request(id: id, method: Self.name, params: .object(params), into: &out)
    }
}

/// A method whose answer the server writes from a `Result` value, so that the answer's shape is
/// written once, next to the `decodeResult` that reads it.
public protocol RPCResultEncoding: RPCMethod {
    static func encodeResult(_ result: Result) -> JSONValue
}

extension RPCResultEncoding where Result == Void {
    /// `{}`.
    public static func encodeResult(_ result: Void) -> JSONValue { [:] }
}

extension RPCMethod where Result == Void {
    public static func decodeResult(_ result: JSONValue) throws(CairnError) {}
}

/// Limits the protocol states for params (the store enforces the same; a server test checks
/// that the numbers agree).
public enum ParamLimits {
    /// The largest `limit` of a listing (`search`, `log`, `block.list`, …).
    public static let maximumPageSize = 1000
    /// The largest `limit` (in characters) of a block.
    public static let maximumBlockLimit = 1_000_000
}

extension JSONObject {
    /// Sets `name` when `value` is not nil (an absent param means its default).
    mutating func include(_ name: String, _ value: JSONValue?) {
        if let value { self[name] = value }
    }

    /// Sets `name` unless `value` is the param's default.
    mutating func include<T: Equatable>(_ name: String, _ value: T, default: T, _ encode: (T) -> JSONValue) {
        if value != `default` { self[name] = encode(value) }
    }
}

extension Params {
    /// A write's `agent` and `reason` (the principal is the caller's, never the request's).
    func attribution() throws(CairnError) -> (agent: String?, reason: String?) {
        let agent = try optionalKey("agent")
        let reason = try optionalString("reason")
        return (agent, reason)
    }

    /// A write's `request_id` (null = absent), checked.
    func requestID() throws(CairnError) -> RequestID? {
        try optionalString("request_id").map { text throws(CairnError) in try RequestID(text) }
    }

    /// `limit`/`offset` of a listing.
    func page(defaultLimit: Int) throws(CairnError) -> (limit: Int, offset: Int) {
        let limit = try int("limit", default: defaultLimit, in: 1...ParamLimits.maximumPageSize)
        let offset = try int("offset", default: 0, in: 0...Int.max)
        return (limit, offset)
    }
}

extension JSONObject {
    /// A write's attribution and request id.
    mutating func includeWrite(agent: String?, reason: String?, requestID: RequestID?) {
        include("reason", reason.map(JSONValue.string))
        include("agent", agent.map(JSONValue.string))
        include("request_id", requestID.map { .string($0.text) })
    }
}

extension RPC {
    /// Every method of the protocol, in the order `docs/protocol.md` lists them.
    public static let all: [any RPCMethod.Type] = [
        Ping.self, Auth.self, TokenCreate.self, TokenRevoke.self, TokenList.self,
        Put.self, Get.self, Delete.self, Search.self, ListNamespaces.self, History.self, Log.self,
        BlockCreate.self, BlockGet.self, BlockUpdate.self, BlockInsert.self, BlockReplace.self, BlockRethink.self,
        BlockDelete.self, BlockList.self, BlockAttach.self, BlockDetach.self, BlockAgents.self, AgentBlocks.self,
        AgentContext.self,
        Subscribe.self, Unsubscribe.self,
    ]
}
