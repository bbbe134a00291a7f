import CairnCore
import CairnRedis

/// A write's answer, and whether it is the answer of an earlier request with the same
/// `request_id` (then this request wrote nothing).
public struct Recorded<T: Sendable>: Sendable {
    public var result: T
    public var replayed: Bool

    public init(_ result: T, replayed: Bool = false) {
        self.result = result
        self.replayed = replayed
    }
}

/// A write result that can be kept in a request record and read back for a replay.
protocol RecordableResult: Sendable {
    var recorded: JSONValue { get }
    init(recorded: JSONValue) throws(CairnError)
}

/// What a write with a request id records, in its own transaction, under
/// `KeyLayout.request(tenant, id)`: which method on which target, and the answer.
struct RequestTag: Sendable {
    var id: RequestID
    /// The Redis key of the record.
    var key: String
    /// The protocol method (`put`, `block.insert`, …).
    var method: String
    /// The namespace and key/label, as an index member (the tenant is in `key`).
    var target: String

    /// Set after an ambiguous `EXEC` to settle it (see `Store.settle`): a transaction still
    /// on its way that `WATCH`es the record key can no longer commit. Read as "no record".
    static let fence = #"{"fence":true}"#

    func record(_ result: JSONValue) -> String {
        JSONValue.object(["method": .string(method), "target": .string(target), "result": result]).serialized()
    }

    enum Found {
        case none
        case record(method: String, target: String, result: JSONValue)
    }

    /// A stored record; `.none` for no record or a fence.
    static func read(_ reply: RedisValue) throws(CairnError) -> Found {
        guard let text = reply.string else { return .none }
        guard let json = try? JSONValue(parsing: text), case .object(let o) = json else {
            throw CairnError(.internalError, "a request record cannot be read")
        }
        guard let method = o["method"]?.stringValue, let target = o["target"]?.stringValue, let result = o["result"] else {
            return .none  // a fence
        }
        return .record(method: method, target: target, result: result)
    }

    /// Checks that a record found under this id is of this very write (method and target,
    /// byte for byte); `reused` otherwise.
    func checkSameWrite(method recordedMethod: String, target recordedTarget: String) throws(CairnError) {
        guard recordedMethod.utf8.elementsEqual(method.utf8), recordedTarget.utf8.elementsEqual(target.utf8) else {
            throw CairnError.requestIDReused(id)
        }
    }
}

extension Store {
    func requestTag(_ id: RequestID?, method: String, ns: Namespace, key: String) -> RequestTag? {
        id.map { RequestTag(id: $0, key: layout.request(ns.tenant.string, $0.text), method: method, target: layout.member(ns, key)) }
    }

    /// What a write whose `EXEC` got no answer did, found out on another connection.
    enum Settled {
        /// It did not commit and never will: the fence is in place.
        case notApplied
        /// It committed: its record.
        case applied(JSONValue)
        /// Could not tell (Redis unreachable, or another retry's fence).
        case unknown
    }

    /// Settles an ambiguous write: `SET NX` a fence on the record key. If that succeeds, the
    /// write had not committed, and because it `WATCH`ed the record key it cannot commit any
    /// more. If the key exists, the record says what the write answered. Bounded by the
    /// command timeout of the connection it uses.
    func settle(_ tag: RequestTag) async -> Settled {
        do {
            let set = try await redis.send(["SET", tag.key, RequestTag.fence, "NX", "PX", String(options.requestIDRetentionMs)]).checked()
            if !set.isNull { return .notApplied }
            switch try RequestTag.read(try await redis.send(["GET", tag.key]).checked()) {
            case .none: return .unknown
            case .record(let method, let target, let result):
                guard (try? tag.checkSameWrite(method: method, target: target)) != nil else { return .unknown }
                return .applied(result)
            }
        } catch {
            return .unknown
        }
    }
}

// MARK: - Results as records

extension PutResult: RecordableResult {
    var recorded: JSONValue {
        [
            "version": .int(version), "created_ms": .int(Int(createdAt.millisecondsSince1970)),
            "updated_ms": .int(Int(updatedAt.millisecondsSince1970)),
        ]
    }

    init(recorded: JSONValue) throws(CairnError) {
        guard let v = recorded["version"]?.intValue, let c = recorded["created_ms"]?.intValue, let u = recorded["updated_ms"]?.intValue
        else { throw Store.unreadableRecord }
        self.init(version: v, createdAt: Timestamp(millisecondsSince1970: Int64(c)), updatedAt: Timestamp(millisecondsSince1970: Int64(u)))
    }
}

extension DeleteResult: RecordableResult {
    var recorded: JSONValue { ["version": .int(version), "existed": .bool(existed)] }

    init(recorded: JSONValue) throws(CairnError) {
        guard let v = recorded["version"]?.intValue, let e = recorded["existed"]?.boolValue else { throw Store.unreadableRecord }
        self.init(version: v, existed: e)
    }
}

/// `block.update` and `block.rethink`: the new version.
struct VersionResult: RecordableResult {
    var version: Int
    init(version: Int) { self.version = version }
    var recorded: JSONValue { ["version": .int(version)] }

    init(recorded: JSONValue) throws(CairnError) {
        guard let v = recorded["version"]?.intValue else { throw Store.unreadableRecord }
        version = v
    }
}

/// `block.insert` and `block.replace`: the new version and the text it holds.
struct EditResult: RecordableResult {
    var version: Int
    var value: String
    init(version: Int, value: String) {
        self.version = version
        self.value = value
    }
    var recorded: JSONValue { ["version": .int(version), "value": .string(value)] }

    init(recorded: JSONValue) throws(CairnError) {
        guard let v = recorded["version"]?.intValue, let t = recorded["value"]?.stringValue else { throw Store.unreadableRecord }
        version = v
        value = t
    }
}

/// `block.attach` and `block.detach` answer nothing.
struct EmptyResult: RecordableResult {
    init() {}
    var recorded: JSONValue { [:] }
    init(recorded: JSONValue) throws(CairnError) {}
}

/// `block.create`: the block as created (its text may be large; it is kept as long as the record).
struct CreatedBlock: RecordableResult {
    var item: Item
    init(_ item: Item) { self.item = item }

    var recorded: JSONValue {
        let base: JSONValue = [
            "ns": [
                "tenant": .string(item.ns.tenant.string), "task": item.ns.task.map { .string($0.string) } ?? .null,
                "role": item.ns.role.map { .string($0.string) } ?? .null,
            ],
            "key": .string(item.key.string), "value": item.value, "version": .int(item.version),
            "created_ms": .int(Int(item.createdAt.millisecondsSince1970)), "updated_ms": .int(Int(item.updatedAt.millisecondsSince1970)),
            "by": .string(item.updatedBy), "limit": .int(item.block?.limit ?? 0), "read_only": .bool(item.block?.readOnly ?? false),
        ]
        guard case .object(var fields) = base else { return base }
        if let agent = item.agent { fields["agent"] = .string(agent) }
        if let d = item.block?.description { fields["description"] = .string(d) }
        if let m = item.block?.metadata { fields["metadata"] = m }
        return .object(fields)
    }

    init(recorded r: JSONValue) throws(CairnError) {
        guard let v = r["version"]?.intValue, let c = r["created_ms"]?.intValue, let u = r["updated_ms"]?.intValue,
            let by = r["by"]?.stringValue, let limit = r["limit"]?.intValue, let readOnly = r["read_only"]?.boolValue,
            let value = r["value"], let key = r["key"]?.stringValue, let tenant = r["ns"]?["tenant"]?.stringValue
        else { throw Store.unreadableRecord }
        let ns = Namespace(storedTenant: tenant, task: r["ns"]?["task"]?.stringValue, role: r["ns"]?["role"]?.stringValue)
        item = Item(
            ns: ns, key: key, kind: .block, value: value, version: v, createdAt: Timestamp(millisecondsSince1970: Int64(c)),
            updatedAt: Timestamp(millisecondsSince1970: Int64(u)), updatedBy: by, agent: r["agent"]?.stringValue,
            block: BlockProperties(description: r["description"]?.stringValue, limit: limit, readOnly: readOnly, metadata: r["metadata"]))
    }
}

extension Store {
    static var unreadableRecord: CairnError { CairnError(.internalError, "a request record cannot be read") }
}
