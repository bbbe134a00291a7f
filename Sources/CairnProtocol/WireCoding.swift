import CairnCore
import OrderedCollections

/// How the store's values look on the wire, and back.
public enum Wire {
    /// A write's result, with `"replayed": true` added when it answers an earlier request with
    /// the same `request_id`.
    public static func replayed(_ result: JSONValue, _ replayed: Bool) -> JSONValue {
        guard replayed, case .object(var o) = result else { return result }
        o["replayed"] = true
        return .object(o)
    }

    public static func namespace(_ ns: Namespace) -> JSONValue {
        var o: JSONObject = ["tenant": .string(ns.tenant.string)]
        if let task = ns.task { o["task"] = .string(task.string) }
        if let role = ns.role { o["role"] = .string(role.string) }
        return .object(o)
    }

    public static func scope(_ scope: Scope) -> JSONValue {
        var o: JSONObject = ["tenant": .string(scope.tenant.string)]
        func put(_ name: String, _ m: Scope.Match) {
            switch m {
            case .any: break
            case .absent: o[name] = .null
            case .equals(let v): o[name] = .string(v.string)
            }
        }
        put("task", scope.task)
        put("role", scope.role)
        return .object(o)
    }

    public static func timestamp(_ t: Timestamp) -> JSONValue { .string(t.rfc3339) }

    /// A token's narrowing: `{"task","role"}` with the components it has, or null when none.
    public static func tokenScope(task: String?, role: String?) -> JSONValue {
        guard task != nil || role != nil else { return .null }
        var o: JSONObject = [:]
        if let task { o["task"] = .string(task) }
        if let role { o["role"] = .string(role) }
        return .object(o)
    }

    /// A filter in the explicit form `{"path":{"$op":operand,…},…}`: parsed again it gives the
    /// same conditions in the same order (a plain value was `$eq`).
    public static func filter(_ filter: Filter) -> JSONValue {
        var o = JSONObject()
        for condition in filter.conditions {
            let path = condition.path.joined(separator: ".")
            var ops = o[path]?.objectValue ?? [:]
            ops[condition.op.rawValue] = condition.operand
            o[path] = .object(ops)
        }
        return .object(o)
    }

    public static func item(_ item: Item) -> JSONValue {
        var o: JSONObject = [
            "ns": namespace(item.ns), "key": .string(item.key.string), "kind": .string(item.kind.rawValue), "value": item.value,
            "version": .int(item.version), "created_at": timestamp(item.createdAt), "updated_at": timestamp(item.updatedAt),
            "updated_by": .string(item.updatedBy),
        ]
        if let agent = item.agent { o["agent"] = .string(agent) }
        if let block = item.block {
            o["label"] = .string(item.key.string)
            o["description"] = block.description.map(JSONValue.string) ?? .null
            o["limit"] = .int(block.limit)
            o["read_only"] = .bool(block.readOnly)
            o["metadata"] = block.metadata ?? .null
            o["chars"] = .int(item.value.stringValue?.unicodeScalars.count ?? 0)
        }
        if let score = item.score { o["score"] = .double(score) }
        return .object(o)
    }

    public static func history(_ e: HistoryEntry) -> JSONValue {
        [
            "version": .int(e.version), "op": .string(e.op.rawValue), "at": timestamp(e.at), "by": .string(e.by),
            "agent": e.agent.map(JSONValue.string) ?? .null, "reason": e.reason.map(JSONValue.string) ?? .null,
            "value": e.value ?? .null,
        ]
    }

    public static func log(_ e: LogEntry) -> JSONValue {
        [
            "cursor": .string(e.cursor), "ns": namespace(e.ns), "key": .string(e.key.string), "kind": .string(e.kind.rawValue),
            "version": .int(e.version), "op": .string(e.op.rawValue), "type": .string(e.type), "at": timestamp(e.at),
            "by": .string(e.by.string), "agent": e.agent.map(JSONValue.string) ?? .null,
            "reason": e.reason.map(JSONValue.string) ?? .null,
        ]
    }

    // MARK: - Decoding (clients)

    public static func decodeNamespace(_ json: JSONValue?) throws(CairnError) -> Namespace {
        guard let o = json?.objectValue, let tenant = o["tenant"]?.stringValue else {
            throw CairnError(.internalError, "the server sent a namespace without a tenant")
        }
        return try Namespace(tenant: tenant, task: o["task"]?.stringValue, role: o["role"]?.stringValue)
    }

    public static func decodeTime(_ json: JSONValue?) -> Timestamp {
        json?.stringValue.flatMap(Timestamp.init(rfc3339:)) ?? Timestamp(millisecondsSince1970: 0)
    }

    public static func decodeItem(_ json: JSONValue) throws(CairnError) -> Item {
        guard let key = json["key"]?.stringValue, let version = json["version"]?.intValue, let value = json["value"] else {
            throw CairnError(.internalError, "the server sent an item without key, version or value")
        }
        let kind = json["kind"]?.stringValue.flatMap(ItemKind.init(rawValue:)) ?? .item
        var block: BlockProperties?
        if kind == .block {
            block = BlockProperties(
                description: json["description"]?.stringValue, limit: json["limit"]?.intValue ?? 0,
                readOnly: json["read_only"]?.boolValue ?? false, metadata: json["metadata"].flatMap { $0.isNull ? nil : $0 })
        }
        return Item(
            ns: try decodeNamespace(json["ns"]), key: key, kind: kind, value: value, version: version,
            createdAt: decodeTime(json["created_at"]), updatedAt: decodeTime(json["updated_at"]),
            updatedBy: json["updated_by"]?.stringValue ?? "", agent: json["agent"]?.stringValue, block: block,
            score: json["score"]?.numberValue)
    }

    /// A listing's array of items (`items`, `blocks`); a missing array is an empty listing.
    public static func decodeItems(_ json: JSONValue?) throws(CairnError) -> [Item] {
        var items: [Item] = []
        for item in json?.arrayValue ?? [] { items.append(try decodeItem(item)) }
        return items
    }

    public static func decodeHistory(_ json: JSONValue) throws(CairnError) -> HistoryEntry {
        guard let version = json["version"]?.intValue, let op = json["op"]?.stringValue.flatMap(WriteOp.init(rawValue:)) else {
            throw CairnError(.internalError, "the server sent a history entry without version or op")
        }
        return HistoryEntry(
            version: version, op: op, at: decodeTime(json["at"]), by: json["by"]?.stringValue ?? "",
            agent: json["agent"]?.stringValue, reason: json["reason"]?.stringValue,
            value: json["value"].flatMap { $0.isNull ? nil : $0 })
    }

    public static func decodeLog(_ json: JSONValue) throws(CairnError) -> LogEntry {
        guard let key = json["key"]?.stringValue, let version = json["version"]?.intValue,
            let op = json["op"]?.stringValue.flatMap(WriteOp.init(rawValue:))
        else { throw CairnError(.internalError, "the server sent a log entry without key, version or op") }
        return LogEntry(
            cursor: json["cursor"]?.stringValue ?? "", ns: try decodeNamespace(json["ns"]), key: key,
            kind: json["kind"]?.stringValue.flatMap(ItemKind.init(rawValue:)) ?? .item, version: version, op: op,
            at: decodeTime(json["at"]), by: json["by"]?.stringValue ?? "", agent: json["agent"]?.stringValue,
            reason: json["reason"]?.stringValue)
    }
}
