import CairnCore
import OrderedCollections

/// The protocol's methods, one type each (`RPC.Put`, `RPC.BlockInsert`, …); see `RPCMethod`.
public enum RPC {}

// MARK: - Items: put, get, delete, search, list_namespaces, history, log

extension RPC {
    public struct Put: RPCResultEncoding {
        public static let name = "put"
        public static let paramNames: DeclaredParams = ["ns", "key", "value", "if_version", "reason", "agent", "request_id"]
        public var ns: Namespace
        public var key: String
        public var value: JSONValue
        /// Compare-and-set: the version the key must have (0: must not exist).
        public var ifVersion: Int?
        public var reason: String?
        public var agent: String?
        public var requestID: RequestID?

        public init(
            _ ns: Namespace, key: String, value: JSONValue, ifVersion: Int? = nil, reason: String? = nil, agent: String? = nil,
            requestID: RequestID? = nil
        ) {
            self.ns = ns
            self.key = key
            self.value = value
            self.ifVersion = ifVersion
            self.reason = reason
            self.agent = agent
            self.requestID = requestID
        }

        public init(checked p: Params) throws(CairnError) {
            ns = try p.namespace()
            key = try p.key("key")
            value = try p.value("value")
            ifVersion = try p.optionalInt("if_version", in: 0...Int.max)
            (agent, reason) = try p.attribution()
            requestID = try p.requestID()
        }

        public var params: JSONObject {
            var o: JSONObject = ["ns": Wire.namespace(ns), "key": .string(key), "value": value]
            o.include("if_version", ifVersion.map(JSONValue.int))
            o.includeWrite(agent: agent, reason: reason, requestID: requestID)
            return o
        }

        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> PutResult {
            PutResult(
                version: r["version"]?.intValue ?? 0, createdAt: Wire.decodeTime(r["created_at"]),
                updatedAt: Wire.decodeTime(r["updated_at"]))
        }

        public static func encodeResult(_ r: PutResult) -> JSONValue {
            ["version": .int(r.version), "created_at": Wire.timestamp(r.createdAt), "updated_at": Wire.timestamp(r.updatedAt)]
        }
    }

    public struct Get: RPCResultEncoding {
        public static let name = "get"
        public static let isReadOnly = true
        public static let paramNames: DeclaredParams = ["ns", "key", "version"]
        public var ns: Namespace
        public var key: String
        /// A past version; nil for the current one.
        public var version: Int?

        public init(_ ns: Namespace, key: String, version: Int? = nil) {
            self.ns = ns
            self.key = key
            self.version = version
        }

        public init(checked p: Params) throws(CairnError) {
            ns = try p.namespace()
            key = try p.key("key")
            version = try p.optionalInt("version", in: 1...Int.max)
        }

        public var params: JSONObject {
            var o: JSONObject = ["ns": Wire.namespace(ns), "key": .string(key)]
            o.include("version", version.map(JSONValue.int))
            return o
        }

        /// nil when there is no such key (or version).
        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> Item? {
            r.isNull ? nil : try Wire.decodeItem(r)
        }

        public static func encodeResult(_ r: Item?) -> JSONValue { r.map(Wire.item) ?? .null }
    }

    public struct Delete: RPCResultEncoding {
        public static let name = "delete"
        public static let paramNames: DeclaredParams = ["ns", "key", "if_version", "reason", "agent", "request_id"]
        public var ns: Namespace
        public var key: String
        public var ifVersion: Int?
        public var reason: String?
        public var agent: String?
        public var requestID: RequestID?

        public init(
            _ ns: Namespace, key: String, ifVersion: Int? = nil, reason: String? = nil, agent: String? = nil,
            requestID: RequestID? = nil
        ) {
            self.ns = ns
            self.key = key
            self.ifVersion = ifVersion
            self.reason = reason
            self.agent = agent
            self.requestID = requestID
        }

        public init(checked p: Params) throws(CairnError) {
            ns = try p.namespace()
            key = try p.key("key")
            ifVersion = try p.optionalInt("if_version", in: 0...Int.max)
            (agent, reason) = try p.attribution()
            requestID = try p.requestID()
        }

        public var params: JSONObject {
            var o: JSONObject = ["ns": Wire.namespace(ns), "key": .string(key)]
            o.include("if_version", ifVersion.map(JSONValue.int))
            o.includeWrite(agent: agent, reason: reason, requestID: requestID)
            return o
        }

        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> DeleteResult {
            DeleteResult(version: r["version"]?.intValue ?? 0, existed: r["existed"]?.boolValue ?? false)
        }

        public static func encodeResult(_ r: DeleteResult) -> JSONValue { ["version": .int(r.version), "existed": .bool(r.existed)] }
    }

    public struct Search: RPCResultEncoding {
        public static let name = "search"
        public static let isReadOnly = true
        public static let paramNames: DeclaredParams = ["scope", "filter", "query", "limit", "offset"]
        public static let defaultLimit = 10
        public var scope: Scope
        public var filter: Filter?
        public var query: TextQuery?
        public var limit: Int
        public var offset: Int

        public init(_ scope: Scope, filter: Filter? = nil, query: TextQuery? = nil, limit: Int = defaultLimit, offset: Int = 0) {
            self.scope = scope
            self.filter = filter
            self.query = query
            self.limit = limit
            self.offset = offset
        }

        /// With the filter and query as a caller writes them; their errors are the server's.
        public init(
            _ scope: Scope, filter: JSONValue?, query: String?, limit: Int? = nil, offset: Int? = nil
        ) throws(CairnError) {
            self.init(scope, limit: limit ?? Self.defaultLimit, offset: offset ?? 0)
            self.filter = try filter.map { v throws(CairnError) in try Filter(v) }
            self.query = try query.map { text throws(CairnError) in try Self.textQuery(text) }
        }

        static func textQuery(_ text: String) throws(CairnError) -> TextQuery {
            guard let q = TextQuery(text) else { throw CairnError.invalidParams("query", "query has no words to look for") }
            return q
        }

        public init(checked p: Params) throws(CairnError) {
            scope = try p.scope()
            filter = try p.optionalValue("filter").map { v throws(CairnError) in try Filter(v) }
            query = try p.optionalString("query").map { text throws(CairnError) in try Self.textQuery(text) }
            (limit, offset) = try p.page(defaultLimit: Self.defaultLimit)
        }

        public var params: JSONObject {
            var o: JSONObject = ["scope": Wire.scope(scope)]
            o.include("filter", filter.map(Wire.filter))
            o.include("query", query.map { .string($0.text) })
            o.include("limit", limit, default: Self.defaultLimit, JSONValue.int)
            o.include("offset", offset, default: 0, JSONValue.int)
            return o
        }

        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> [Item] {
            try Wire.decodeItems(r["items"])
        }

        public static func encodeResult(_ r: [Item]) -> JSONValue { ["items": .array(r.map(Wire.item))] }
    }

    public struct ListNamespaces: RPCResultEncoding {
        public static let name = "list_namespaces"
        public static let isReadOnly = true
        public static let paramNames: DeclaredParams = ["scope", "limit", "offset"]
        public static let defaultLimit = 100
        public var scope: Scope
        public var limit: Int
        public var offset: Int

        public init(_ scope: Scope, limit: Int = defaultLimit, offset: Int = 0) {
            self.scope = scope
            self.limit = limit
            self.offset = offset
        }

        public init(checked p: Params) throws(CairnError) {
            scope = try p.scope()
            (limit, offset) = try p.page(defaultLimit: Self.defaultLimit)
        }

        public var params: JSONObject {
            var o: JSONObject = ["scope": Wire.scope(scope)]
            o.include("limit", limit, default: Self.defaultLimit, JSONValue.int)
            o.include("offset", offset, default: 0, JSONValue.int)
            return o
        }

        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> [Namespace] {
            var list: [Namespace] = []
            for json in r["namespaces"]?.arrayValue ?? [] { list.append(try Wire.decodeNamespace(json)) }
            return list
        }

        public static func encodeResult(_ r: [Namespace]) -> JSONValue { ["namespaces": .array(r.map(Wire.namespace))] }
    }

    public struct History: RPCResultEncoding {
        public static let name = "history"
        public static let isReadOnly = true
        public static let paramNames: DeclaredParams = ["ns", "key", "limit", "before_version"]
        public static let defaultLimit = 20
        public var ns: Namespace
        public var key: String
        public var limit: Int
        /// Only versions before this one (to page back); nil from the newest.
        public var beforeVersion: Int?

        public init(_ ns: Namespace, key: String, limit: Int = defaultLimit, beforeVersion: Int? = nil) {
            self.ns = ns
            self.key = key
            self.limit = limit
            self.beforeVersion = beforeVersion
        }

        public init(checked p: Params) throws(CairnError) {
            ns = try p.namespace()
            key = try p.key("key")
            limit = try p.int("limit", default: Self.defaultLimit, in: 1...ParamLimits.maximumPageSize)
            beforeVersion = try p.optionalInt("before_version", in: 1...Int.max)
        }

        public var params: JSONObject {
            var o: JSONObject = ["ns": Wire.namespace(ns), "key": .string(key)]
            o.include("limit", limit, default: Self.defaultLimit, JSONValue.int)
            o.include("before_version", beforeVersion.map(JSONValue.int))
            return o
        }

        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> [HistoryEntry] {
            var entries: [HistoryEntry] = []
            for json in r["entries"]?.arrayValue ?? [] { entries.append(try Wire.decodeHistory(json)) }
            return entries
        }

        public static func encodeResult(_ r: [HistoryEntry]) -> JSONValue { ["entries": .array(r.map(Wire.history))] }
    }

    public struct Log: RPCResultEncoding {
        public static let name = "log"
        public static let isReadOnly = true
        public static let paramNames: DeclaredParams = ["scope", "since", "until", "by", "after", "limit"]
        public static let defaultLimit = 100
        public var scope: Scope
        public var since: Timestamp?
        public var until: Timestamp?
        /// Only writes by this principal.
        public var by: String?
        /// Only entries after this cursor (to page on).
        public var after: String?
        public var limit: Int

        public init(
            _ scope: Scope, since: Timestamp? = nil, until: Timestamp? = nil, by: String? = nil, after: String? = nil,
            limit: Int = defaultLimit
        ) {
            self.scope = scope
            self.since = since
            self.until = until
            self.by = by
            self.after = after
            self.limit = limit
        }

        public init(checked p: Params) throws(CairnError) {
            scope = try p.scope()
            since = try p.optionalTimestamp("since")
            until = try p.optionalTimestamp("until")
            by = try p.optionalString("by")
            after = try p.optionalString("after")
            limit = try p.int("limit", default: Self.defaultLimit, in: 1...ParamLimits.maximumPageSize)
        }

        public var params: JSONObject {
            var o: JSONObject = ["scope": Wire.scope(scope)]
            o.include("since", since.map(Wire.timestamp))
            o.include("until", until.map(Wire.timestamp))
            o.include("by", by.map(JSONValue.string))
            o.include("after", after.map(JSONValue.string))
            o.include("limit", limit, default: Self.defaultLimit, JSONValue.int)
            return o
        }

        public static func decodeResult(_ r: JSONValue) throws(CairnError) -> [LogEntry] {
            var entries: [LogEntry] = []
            for json in r["entries"]?.arrayValue ?? [] { entries.append(try Wire.decodeLog(json)) }
            return entries
        }

        public static func encodeResult(_ r: [LogEntry]) -> JSONValue { ["entries": .array(r.map(Wire.log))] }
    }
}
