import CairnCore

/// How namespaces, keys and tenants become Redis keys. See `docs/key-layout.md`.
///
/// Every name is percent-encoded: bytes outside `A-Z a-z 0-9 . _ -` become `%XX`, so an encoded
/// name never holds `:`, `{`, `}` or `%` unescaped. An absent task or role encodes as the empty
/// string, which no present component can produce (components are at least one byte). Joining
/// such parts with `:` is therefore injective: two different (namespace, key) pairs can never
/// share a Redis key. The encoded tenant sits alone inside `{…}`, Redis's hash tag, so every key
/// of one tenant maps to the same cluster slot and one `MULTI` may touch any of them.
package struct KeyLayout: Sendable, Hashable {
    /// The first part of every key, so that several stores can share one Redis database.
    package let prefix: String

    package init(prefix: String = "cairn") {
        precondition(!prefix.isEmpty && !prefix.contains("{") && !prefix.contains("}"), "key prefix must be non-empty without braces")
        self.prefix = prefix
    }

    /// `cairn:{<tenant>}`: the part every key of the tenant starts with.
    package func tenantRoot(_ tenant: String) -> String {
        "\(prefix):{\(KeyLayout.encode(tenant))}"
    }

    /// The tenant's change stream: every write's audit entry, in commit order.
    package func stream(_ tenant: String) -> String { tenantRoot(tenant) + ":log" }

    /// The tenant's index of live items: a sorted set of members scored by `updated_at` ms.
    package func index(_ tenant: String) -> String { tenantRoot(tenant) + ":idx" }

    /// The tenant's search documents: a hash from index member to `[updated_ms, kind,
    /// description, value]` (JSON), so that one `HGETALL` feeds a filtered or text search.
    package func documents(_ tenant: String) -> String { tenantRoot(tenant) + ":docs" }

    /// The same keys for a tenant held as a `Name` (its bytes are what gets encoded).
    package func tenantRoot(_ tenant: Name) -> String { tenantRoot(tenant.string) }
    package func stream(_ tenant: Name) -> String { stream(tenant.string) }
    package func index(_ tenant: Name) -> String { index(tenant.string) }
    package func documents(_ tenant: Name) -> String { documents(tenant.string) }
    package func agent(_ tenant: Name, _ agent: String) -> String { self.agent(tenant.string, agent) }

    /// `<task>:<role>:<key>`, the member of the index and the tail of item keys.
    package func member(_ ns: Namespace, _ key: String) -> String {
        "\(KeyLayout.encode(ns.task)):\(KeyLayout.encode(ns.role)):\(KeyLayout.encode(key))"
    }

    /// The hash that holds one item's current state.
    package func item(_ ns: Namespace, _ key: String) -> String { tenantRoot(ns.tenant) + ":i:" + member(ns, key) }

    /// The list of one item's kept history entries, newest first.
    package func history(_ ns: Namespace, _ key: String) -> String { tenantRoot(ns.tenant) + ":h:" + member(ns, key) }

    /// The blocks attached to one agent: a hash from label to the block's index member.
    package func agent(_ tenant: String, _ agent: String) -> String { tenantRoot(tenant) + ":a:" + KeyLayout.encode(agent) }

    /// The agents one block is attached to: a set of agent ids.
    package func attachments(_ ns: Namespace, _ label: String) -> String { tenantRoot(ns.tenant) + ":at:" + member(ns, label) }

    /// The record of one request id of the tenant: a string (JSON of the method, the target
    /// and the answer) written in the write's own transaction, expiring after the retention.
    package func request(_ tenant: String, _ id: String) -> String { tenantRoot(tenant) + ":rq:" + KeyLayout.encode(id) }

    /// Decodes an index member back into its namespace and key.
    package func decodeMember(_ member: String, tenant: Name) -> (Namespace, String)? {
        decodeMember(member, tenant: tenant.string)
    }

    /// Decodes an index member back into its namespace and key.
    package func decodeMember(_ member: String, tenant: String) -> (Namespace, String)? {
        let utf8 = member.utf8
        guard let first = utf8.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let rest = utf8.index(after: first)
        guard let second = utf8[rest...].firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let task = Substring(utf8[..<first])
        let role = Substring(utf8[rest..<second])
        guard let key = KeyLayout.decode(Substring(utf8[utf8.index(after: second)...])), !key.isEmpty else { return nil }
        // Members are written by `member(_:_:)` from validated names; a member that does not
        // decode is skipped, not trusted.
        let decodedTask = task.isEmpty ? nil : KeyLayout.decode(task)
        let decodedRole = role.isEmpty ? nil : KeyLayout.decode(role)
        if !task.isEmpty && decodedTask == nil || !role.isEmpty && decodedRole == nil { return nil }
        return (Namespace(storedTenant: tenant, task: decodedTask, role: decodedRole), key)
    }

    static func isUnreserved(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default: false
        }
    }

    /// Percent-encodes every byte outside `A-Z a-z 0-9 . _ -`; nil encodes as "".
    package static func encode(_ text: String?) -> String {
        guard let text else { return "" }
        if text.utf8.allSatisfy(isUnreserved) { return text }
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 3)
        for b in text.utf8 {
            if isUnreserved(b) {
                out.append(b)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Percent-encodes a name's bytes; nil encodes as "".
    package static func encode(_ name: Name?) -> String { encode(name?.string) }

    /// The inverse of `encode`; nil for text `encode` cannot produce.
    package static func decode(_ text: Substring) -> String? {
        // Most names have nothing escaped: then the text is the name.
        if !text.utf8.contains(UInt8(ascii: "%")) { return String(text) }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        var it = text.utf8.makeIterator()
        func hexValue(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        while let b = it.next() {
            if b == UInt8(ascii: "%") {
                guard let h = it.next().flatMap(hexValue), let l = it.next().flatMap(hexValue) else { return nil }
                out.append(h << 4 | l)
            } else {
                out.append(b)
            }
        }
        if !out.contains(where: { $0 >= 0x80 }) { return String(decoding: out, as: UTF8.self) }
        return String(validating: out, as: UTF8.self)
    }
}
