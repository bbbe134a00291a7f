import CairnCore
import OrderedCollections

// MARK: - Block edits: block.insert, block.replace, block.rethink

extension RPC {
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
}
