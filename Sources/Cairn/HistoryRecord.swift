import CairnCore

/// One entry of an item's history list: a JSON object holding the version's full state, so that
/// `get(version:)` can rebuild the item as it was.
enum HistoryRecord {
    static func encode(
        version: Int, op: WriteOp, atMs: Int64, attribution: Attribution, valueText: String?, kind: ItemKind,
        createdMs: Int64?, block: BlockProperties?
    ) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(128 + (valueText?.utf8.count ?? 0))
        var first = true
        func member(_ name: String, _ value: JSONValue) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            JSONValue.writeString(name, to: &out)
            out.append(UInt8(ascii: ":"))
            value.write(to: &out)
        }
        out.append(UInt8(ascii: "{"))
        member("version", .int(version))
        member("op", .string(op.rawValue))
        member("at", .string(Timestamp(millisecondsSince1970: atMs).rfc3339))
        member("by", .string(attribution.principal))
        if let agent = attribution.agent { member("agent", .string(agent)) }
        if let reason = attribution.reason { member("reason", .string(reason)) }
        member("kind", .string(kind.rawValue))
        if let createdMs { member("created_at", .string(Timestamp(millisecondsSince1970: createdMs).rfc3339)) }
        if let block {
            if let d = block.description { member("description", .string(d)) }
            member("limit", .int(block.limit))
            member("read_only", .bool(block.readOnly))
            if let m = block.metadata { member("metadata", m) }
        }
        out.append(contentsOf: ",\"value\":".utf8)
        out.append(contentsOf: (valueText ?? "null").utf8)
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    struct Decoded {
        var entry: HistoryEntry
        var kind: ItemKind
        var createdAt: Timestamp?
        var block: BlockProperties?
    }

    static func decode(_ text: String) -> Decoded? {
        guard let json = try? JSONValue(parsing: text), case .object(let o) = json,
            let version = o["version"]?.intValue, let op = o["op"]?.stringValue.flatMap(WriteOp.init(rawValue:)),
            let at = o["at"]?.stringValue.flatMap(Timestamp.init(rfc3339:)), let by = o["by"]?.stringValue
        else { return nil }
        let kind = o["kind"]?.stringValue.flatMap(ItemKind.init(rawValue:)) ?? .item
        var block: BlockProperties?
        if kind == .block, op != .delete {
            block = BlockProperties(
                description: o["description"]?.stringValue, limit: o["limit"]?.intValue ?? 0,
                readOnly: o["read_only"]?.boolValue ?? false, metadata: o["metadata"])
        }
        let value = o["value"].flatMap { $0.isNull ? nil : $0 }
        return Decoded(
            entry: HistoryEntry(
                version: version, op: op, at: at, by: by, agent: o["agent"]?.stringValue,
                reason: o["reason"]?.stringValue, value: value),
            kind: kind, createdAt: o["created_at"]?.stringValue.flatMap(Timestamp.init(rfc3339:)), block: block)
    }
}

/// The fields of one change-stream entry (`XADD`), and back.
enum StreamRecord {
    static func fields(
        ns: Namespace, key: String, kind: ItemKind, version: Int, op: WriteOp, atMs: Int64, attribution: Attribution
    ) -> [String] {
        var f = ["key", key, "kind", kind.rawValue, "version", String(version), "op", op.rawValue, "at", String(atMs), "by", attribution.principal]
        if let task = ns.task { f += ["task", task.string] }
        if let role = ns.role { f += ["role", role.string] }
        if let agent = attribution.agent { f += ["agent", agent] }
        if let reason = attribution.reason { f += ["reason", reason] }
        return f
    }

    static func decode(id: String, fields: [String: String], tenant: String) -> LogEntry? {
        guard let key = fields["key"], let version = fields["version"].flatMap({ Int($0) }),
            let op = fields["op"].flatMap(WriteOp.init(rawValue:)), let at = fields["at"].flatMap({ Int64($0) }),
            let ns = try? Namespace(tenant: tenant, task: fields["task"], role: fields["role"])
        else { return nil }
        return LogEntry(
            cursor: id, ns: ns, key: key, kind: fields["kind"].flatMap(ItemKind.init(rawValue:)) ?? .item,
            version: version, op: op, at: Timestamp(millisecondsSince1970: at), by: fields["by"] ?? "",
            agent: fields["agent"], reason: fields["reason"])
    }
}
