import CairnCore
import OrderedCollections

// MARK: - Blocks: block.create, block.get, block.update, block.delete, block.list

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
}
