import CairnCore
import OrderedCollections

// MARK: - Blocks: block.*, agent.*

extension RPC {
    public struct BlockCreate: RPCResultEncoding {
        public static let name = "block.create"
        public static let paramNames: DeclaredParams = [
            "ns", "label", "value", "description", "limit", "read_only", "metadata", "agents", "reason", "agent", "request_id",
        ]
        public static let defaultLimit = 5000
        public var ns: Namespace
        public var label: String
        public var value: String
        public var description: String?
        /// The most characters the block may hold.
        public var limit: Int
        public var readOnly: Bool
        public var metadata: JSONValue?
        /// Agents to attach the block to.
        public var agents: [String]
        public var reason: String?
        public var agent: String?
        public var requestID: RequestID?

        public init(
            _ ns: Namespace, label: String, value: String = "", description: String? = nil, limit: Int = defaultLimit,
            readOnly: Bool = false, metadata: JSONValue? = nil, agents: [String] = [], reason: String? = nil,
            agent: String? = nil, requestID: RequestID? = nil
        ) {
            self.ns = ns
            self.label = label
            self.value = value
            self.description = description
            self.limit = limit
            self.readOnly = readOnly
            self.metadata = metadata
            self.agents = agents
            self.reason = reason
            self.agent = agent
            self.requestID = requestID
        }

        public init(checked p: Params) throws(CairnError) {
            ns = try p.namespace()
            label = try p.key("label")
            value = try p.optionalString("value") ?? ""
            description = try p.optionalString("description")
            limit = try p.int("limit", default: Self.defaultLimit, in: 1...ParamLimits.maximumBlockLimit)
            readOnly = try p.optionalBool("read_only") ?? false
            metadata = try p.optionalValue("metadata")
            agents = try p.stringArray("agents") ?? []
            (agent, reason) = try p.attribution()
            requestID = try p.requestID()
        }

        public var params: JSONObject {
            var o: JSONObject = ["ns": Wire.namespace(ns), "label": .string(label)]
            o.include("value", value, default: "", JSONValue.string)
            o.include("description", description.map(JSONValue.string))
            o.include("limit", limit, default: Self.defaultLimit, JSONValue.int)
            o.include("read_only", readOnly, default: false, JSONValue.bool)
            o.include("metadata", metadata)
            o.include("agents", agents, default: []) { .array($0.map(JSONValue.string)) }
            o.includeWrite(agent: agent, reason: reason, requestID: requestID)
            return o
        }

        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> Item { try Wire.decodeItem(r) }
        public static func encodeResult(_ r: Item) -> JSONValue { Wire.item(r) }
    }

    public struct BlockGet: RPCResultEncoding {
        public static let name = "block.get"
        public static let isReadOnly = true
        public static let paramNames: DeclaredParams = ["ns", "label", "version"]
        public var ns: Namespace
        public var label: String
        public var version: Int?

        public init(_ ns: Namespace, label: String, version: Int? = nil) {
            self.ns = ns
            self.label = label
            self.version = version
        }

        public init(checked p: Params) throws(CairnError) {
            ns = try p.namespace()
            label = try p.key("label")
            version = try p.optionalInt("version", in: 1...Int.max)
        }

        public var params: JSONObject {
            var o: JSONObject = ["ns": Wire.namespace(ns), "label": .string(label)]
            o.include("version", version.map(JSONValue.int))
            return o
        }

        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> Item { try Wire.decodeItem(r) }
        public static func encodeResult(_ r: Item) -> JSONValue { Wire.item(r) }
    }

    /// Changes the members given; nil leaves one as it is.
    public struct BlockUpdate: RPCResultEncoding {
        public static let name = "block.update"
        public static let paramNames: DeclaredParams = [
            "ns", "label", "value", "description", "limit", "read_only", "metadata", "if_version", "reason", "agent", "request_id",
        ]
        public var ns: Namespace
        public var label: String
        public var value: String?
        public var description: String?
        public var limit: Int?
        public var readOnly: Bool?
        public var metadata: JSONValue?
        public var ifVersion: Int?
        public var reason: String?
        public var agent: String?
        public var requestID: RequestID?

        public init(
            _ ns: Namespace, label: String, value: String? = nil, description: String? = nil, limit: Int? = nil,
            readOnly: Bool? = nil, metadata: JSONValue? = nil, ifVersion: Int? = nil, reason: String? = nil,
            agent: String? = nil, requestID: RequestID? = nil
        ) {
            self.ns = ns
            self.label = label
            self.value = value
            self.description = description
            self.limit = limit
            self.readOnly = readOnly
            self.metadata = metadata
            self.ifVersion = ifVersion
            self.reason = reason
            self.agent = agent
            self.requestID = requestID
        }

        public init(checked p: Params) throws(CairnError) {
            ns = try p.namespace()
            label = try p.key("label")
            value = try p.optionalString("value")
            description = try p.optionalString("description")
            limit = try p.optionalInt("limit", in: 1...ParamLimits.maximumBlockLimit)
            readOnly = try p.optionalBool("read_only")
            metadata = try p.optionalValue("metadata")
            ifVersion = try p.optionalInt("if_version", in: 1...Int.max)
            (agent, reason) = try p.attribution()
            requestID = try p.requestID()
        }

        public var params: JSONObject {
            var o: JSONObject = ["ns": Wire.namespace(ns), "label": .string(label)]
            o.include("value", value.map(JSONValue.string))
            o.include("description", description.map(JSONValue.string))
            o.include("limit", limit.map(JSONValue.int))
            o.include("read_only", readOnly.map(JSONValue.bool))
            o.include("metadata", metadata)
            o.include("if_version", ifVersion.map(JSONValue.int))
            o.includeWrite(agent: agent, reason: reason, requestID: requestID)
            return o
        }

        /// The new version.
        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> Int { r["version"]?.intValue ?? 0 }
        public static func encodeResult(_ r: Int) -> JSONValue { ["version": .int(r)] }
    }

    /// A block edit's answer: the new version and the whole new text.
    public struct BlockEdit: Sendable, Hashable {
        public var version: Int
        public var value: String

        public init(version: Int, value: String) {
            self.version = version
            self.value = value
        }

        static func decode(_ r: JSONValue) -> BlockEdit {
            BlockEdit(version: r["version"]?.intValue ?? 0, value: r["value"]?.stringValue ?? "")
        }
    }

    /// Inserts `text` after line `line` (0 top, -1 end).
    public struct BlockInsert: RPCResultEncoding {
        public static let name = "block.insert"
        public static let paramNames: DeclaredParams = ["ns", "label", "text", "line", "reason", "agent", "request_id"]
        /// The end of the block.
        public static let defaultLine = -1
        public var ns: Namespace
        public var label: String
        public var text: String
        public var line: Int
        public var reason: String?
        public var agent: String?
        public var requestID: RequestID?

        public init(
            _ ns: Namespace, label: String, text: String, line: Int = defaultLine, reason: String? = nil, agent: String? = nil,
            requestID: RequestID? = nil
        ) {
            self.ns = ns
            self.label = label
            self.text = text
            self.line = line
            self.reason = reason
            self.agent = agent
            self.requestID = requestID
        }

        public init(checked p: Params) throws(CairnError) {
            ns = try p.namespace()
            label = try p.key("label")
            text = try p.string("text")
            line = try p.int("line", default: Self.defaultLine)
            try BlockText.checkLine(line)
            (agent, reason) = try p.attribution()
            requestID = try p.requestID()
        }

        public var params: JSONObject {
            var o: JSONObject = ["ns": Wire.namespace(ns), "label": .string(label), "text": .string(text)]
            o.include("line", line, default: Self.defaultLine, JSONValue.int)
            o.includeWrite(agent: agent, reason: reason, requestID: requestID)
            return o
        }

        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> BlockEdit { BlockEdit.decode(r) }
        public static func encodeResult(_ r: BlockEdit) -> JSONValue { ["version": .int(r.version), "value": .string(r.value)] }
    }

    /// Replaces the one occurrence of `old` with `new` ("" deletes it).
    public struct BlockReplace: RPCResultEncoding {
        public static let name = "block.replace"
        public static let paramNames: DeclaredParams = ["ns", "label", "old", "new", "reason", "agent", "request_id"]
        public var ns: Namespace
        public var label: String
        public var old: String
        public var new: String
        public var reason: String?
        public var agent: String?
        public var requestID: RequestID?

        public init(
            _ ns: Namespace, label: String, old: String, new: String, reason: String? = nil, agent: String? = nil,
            requestID: RequestID? = nil
        ) {
            self.ns = ns
            self.label = label
            self.old = old
            self.new = new
            self.reason = reason
            self.agent = agent
            self.requestID = requestID
        }

        public init(checked p: Params) throws(CairnError) {
            ns = try p.namespace()
            label = try p.key("label")
            old = try p.string("old")
            if old.isEmpty { throw CairnError.invalidParams("old", "old must not be empty; use block.insert to add text") }
            // Required, but null is taken as "": present is what matters.
            new = try p.optionalString("new") ?? ""
            if try !p.isPresent("new") { throw CairnError.invalidParams("new", "new is required (\"\" deletes the text)") }
            (agent, reason) = try p.attribution()
            requestID = try p.requestID()
        }

        public var params: JSONObject {
            var o: JSONObject = ["ns": Wire.namespace(ns), "label": .string(label), "old": .string(old), "new": .string(new)]
            o.includeWrite(agent: agent, reason: reason, requestID: requestID)
            return o
        }

        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> BlockEdit { BlockEdit.decode(r) }
        public static func encodeResult(_ r: BlockEdit) -> JSONValue { ["version": .int(r.version), "value": .string(r.value)] }
    }

    /// Replaces the whole text.
    public struct BlockRethink: RPCResultEncoding {
        public static let name = "block.rethink"
        public static let paramNames: DeclaredParams = ["ns", "label", "value", "if_version", "reason", "agent", "request_id"]
        public var ns: Namespace
        public var label: String
        public var value: String
        public var ifVersion: Int?
        public var reason: String?
        public var agent: String?
        public var requestID: RequestID?

        public init(
            _ ns: Namespace, label: String, value: String, ifVersion: Int? = nil, reason: String? = nil, agent: String? = nil,
            requestID: RequestID? = nil
        ) {
            self.ns = ns
            self.label = label
            self.value = value
            self.ifVersion = ifVersion
            self.reason = reason
            self.agent = agent
            self.requestID = requestID
        }

        public init(checked p: Params) throws(CairnError) {
            ns = try p.namespace()
            label = try p.key("label")
            value = try p.string("value")
            ifVersion = try p.optionalInt("if_version", in: 1...Int.max)
            (agent, reason) = try p.attribution()
            requestID = try p.requestID()
        }

        public var params: JSONObject {
            var o: JSONObject = ["ns": Wire.namespace(ns), "label": .string(label), "value": .string(value)]
            o.include("if_version", ifVersion.map(JSONValue.int))
            o.includeWrite(agent: agent, reason: reason, requestID: requestID)
            return o
        }

        /// The new version.
        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> Int { r["version"]?.intValue ?? 0 }
        public static func encodeResult(_ r: Int) -> JSONValue { ["version": .int(r)] }
    }

    public struct BlockDelete: RPCResultEncoding {
        public static let name = "block.delete"
        public static let paramNames: DeclaredParams = ["ns", "label", "if_version", "reason", "agent", "request_id"]
        public var ns: Namespace
        public var label: String
        public var ifVersion: Int?
        public var reason: String?
        public var agent: String?
        public var requestID: RequestID?

        public init(
            _ ns: Namespace, label: String, ifVersion: Int? = nil, reason: String? = nil, agent: String? = nil,
            requestID: RequestID? = nil
        ) {
            self.ns = ns
            self.label = label
            self.ifVersion = ifVersion
            self.reason = reason
            self.agent = agent
            self.requestID = requestID
        }

        public init(checked p: Params) throws(CairnError) {
            ns = try p.namespace()
            label = try p.key("label")
            ifVersion = try p.optionalInt("if_version", in: 0...Int.max)
            (agent, reason) = try p.attribution()
            requestID = try p.requestID()
        }

        public var params: JSONObject {
            var o: JSONObject = ["ns": Wire.namespace(ns), "label": .string(label)]
            o.include("if_version", ifVersion.map(JSONValue.int))
            o.includeWrite(agent: agent, reason: reason, requestID: requestID)
            return o
        }

        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> DeleteResult { try Delete.decodeResult(r) }
        public static func encodeResult(_ r: DeleteResult) -> JSONValue { Delete.encodeResult(r) }
    }

    public struct BlockList: RPCResultEncoding {
        public static let name = "block.list"
        public static let isReadOnly = true
        public static let paramNames: DeclaredParams = ["scope", "label_search", "limit", "offset"]
        public static let defaultLimit = 50
        public var scope: Scope
        /// Only labels containing this text.
        public var labelSearch: String?
        public var limit: Int
        public var offset: Int

        public init(_ scope: Scope, labelSearch: String? = nil, limit: Int = defaultLimit, offset: Int = 0) {
            self.scope = scope
            self.labelSearch = labelSearch
            self.limit = limit
            self.offset = offset
        }

        public init(checked p: Params) throws(CairnError) {
            scope = try p.scope()
            labelSearch = try p.optionalString("label_search")
            (limit, offset) = try p.page(defaultLimit: Self.defaultLimit)
        }

        public var params: JSONObject {
            var o: JSONObject = ["scope": Wire.scope(scope)]
            o.include("label_search", labelSearch.map(JSONValue.string))
            o.include("limit", limit, default: Self.defaultLimit, JSONValue.int)
            o.include("offset", offset, default: 0, JSONValue.int)
            return o
        }

        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> [Item] { try Wire.decodeItems(r["blocks"]) }
        public static func encodeResult(_ r: [Item]) -> JSONValue { ["blocks": .array(r.map(Wire.item))] }
    }

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
