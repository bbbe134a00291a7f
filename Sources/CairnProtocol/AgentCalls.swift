import CairnCore
import OrderedCollections

// MARK: - Attachments: block.attach, block.detach, block.agents, agent.blocks, agent.context

extension RPC {
    /// `block.attach` and `block.detach`: the same params, one type each.
    public struct BlockAttach: BlockAttachment {
        public static let name = "block.attach"
        public var ns: Namespace, label: String, agent: String, reason: String?, requestID: RequestID?
        public init(_ ns: Namespace, label: String, agent: String, reason: String? = nil, requestID: RequestID? = nil) {
            (self.ns, self.label, self.agent, self.reason, self.requestID) = (ns, label, agent, reason, requestID)
        }
    }

    public struct BlockDetach: BlockAttachment {
        public static let name = "block.detach"
        public var ns: Namespace, label: String, agent: String, reason: String?, requestID: RequestID?
        public init(_ ns: Namespace, label: String, agent: String, reason: String? = nil, requestID: RequestID? = nil) {
            (self.ns, self.label, self.agent, self.reason, self.requestID) = (ns, label, agent, reason, requestID)
        }
    }

    public struct BlockAgents: RPCResultEncoding {
        public static let name = "block.agents"
        public static let isReadOnly = true
        public static let paramNames: DeclaredParams = ["ns", "label"]
        public var ns: Namespace
        public var label: String

        public init(_ ns: Namespace, label: String) {
            self.ns = ns
            self.label = label
        }

        public init(checked p: Params) throws(CairnError) {
            ns = try p.namespace()
            label = try p.key("label")
        }

        public var params: JSONObject { ["ns": Wire.namespace(ns), "label": .string(label)] }

        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> [String] {
            r["agents"]?.arrayValue?.compactMap(\.stringValue) ?? []
        }

        public static func encodeResult(_ r: [String]) -> JSONValue { ["agents": .array(r.map(JSONValue.string))] }
    }

    /// The blocks attached to an agent, read at one instant.
    public struct AgentBlocks: AgentBlocksMethod, RPCResultEncoding {
        public static let name = "agent.blocks"
        public var tenant: String, agent: String
        public init(tenant: String, agent: String) { (self.tenant, self.agent) = (tenant, agent) }

        /// The blocks the token may read, and how many attached blocks lie outside its scope.
        public struct Answer: Sendable, Hashable {
            public var blocks: [Item]
            public var omitted: Int
            public init(blocks: [Item], omitted: Int) { (self.blocks, self.omitted) = (blocks, omitted) }
        }

        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> Answer {
            Answer(blocks: try Wire.decodeItems(r["blocks"]), omitted: r["omitted"]?.intValue ?? 0)
        }

        public static func encodeResult(_ r: Answer) -> JSONValue { ["blocks": .array(r.blocks.map(Wire.item)), "omitted": .int(r.omitted)] }
    }

    /// `agent.blocks` and their prompt-ready rendering.
    public struct AgentContext: AgentBlocksMethod, RPCResultEncoding {
        public static let name = "agent.context"
        public var tenant: String, agent: String
        public init(tenant: String, agent: String) { (self.tenant, self.agent) = (tenant, agent) }
        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> CairnProtocol.AgentContext {
            CairnProtocol.AgentContext(
                blocks: try Wire.decodeItems(r["blocks"]), rendered: r["rendered"]?.stringValue ?? "",
                omitted: r["omitted"]?.intValue ?? 0)
        }

        public static func encodeResult(_ r: CairnProtocol.AgentContext) -> JSONValue {
            ["blocks": .array(r.blocks.map(Wire.item)), "omitted": .int(r.omitted), "rendered": .string(r.rendered)]
        }
    }
}

/// `agent.context`'s answer.
public struct AgentContext: Sendable, Hashable {
    /// Every attached block the token may read, read at one instant, by label.
    public var blocks: [Item]
    /// The prompt-ready rendering of `blocks`.
    public var rendered: String
    /// Attached blocks left out because they lie outside the token's scope.
    public var omitted: Int

    public init(blocks: [Item], rendered: String, omitted: Int) {
        self.blocks = blocks
        self.rendered = rendered
        self.omitted = omitted
    }
}

/// The params of `block.attach` and `block.detach`.
public protocol BlockAttachment: RPCResultEncoding where Result == Void {
    var ns: Namespace { get set }
    var label: String { get set }
    var agent: String { get set }
    var reason: String? { get set }
    var requestID: RequestID? { get set }
    init(_ ns: Namespace, label: String, agent: String, reason: String?, requestID: RequestID?)
}

extension BlockAttachment {
    public static var paramNames: DeclaredParams { ["ns", "label", "agent", "reason", "request_id"] }

    public init(checked p: Params) throws(CairnError) {
        let ns = try p.namespace()
        let label = try p.key("label")
        let agent = try p.key("agent")
        let reason = try p.optionalString("reason")
        self.init(ns, label: label, agent: agent, reason: reason, requestID: try p.requestID())
    }

    public var params: JSONObject {
        var o: JSONObject = ["ns": Wire.namespace(ns), "label": .string(label), "agent": .string(agent)]
        o.include("reason", reason.map(JSONValue.string))
        o.include("request_id", requestID.map { .string($0.text) })
        return o
    }
}

/// The params of `agent.blocks` and `agent.context`: `{"tenant","agent"}`.
public protocol AgentBlocksMethod: RPCMethod {
    var tenant: String { get }
    var agent: String { get }
    init(tenant: String, agent: String)
}

extension AgentBlocksMethod {
    public static var isReadOnly: Bool { true }
    public static var paramNames: DeclaredParams { ["tenant", "agent"] }

    public init(checked p: Params) throws(CairnError) {
        let tenant = try p.namespaceComponent("tenant")
        self.init(tenant: tenant, agent: try p.key("agent"))
    }

    public var params: JSONObject { ["tenant": .string(tenant), "agent": .string(agent)] }
}
