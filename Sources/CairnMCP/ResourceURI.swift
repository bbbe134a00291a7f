/// The URI of a block as an MCP resource: `cairn://<tenant>/<task>/<role>/blocks/<label>`.
///
/// Every part is percent-encoded (bytes outside `A-Z a-z 0-9 - . _ ~` as `%XX`, upper-case hex),
/// so a `/` in a name cannot shift the segments; an absent task or role is an empty segment.
/// Decoding compares nothing: it gives back the exact bytes that were encoded.
public struct BlockResourceURI: Sendable, Hashable {
    public var tenant: String
    public var task: String?
    public var role: String?
    public var label: String

    public init(tenant: String, task: String?, role: String?, label: String) {
        self.tenant = tenant
        self.task = task
        self.role = role
        self.label = label
    }

    public var string: String {
        "cairn://\(Self.encode(tenant))/\(Self.encode(task ?? ""))/\(Self.encode(role ?? ""))/blocks/\(Self.encode(label))"
    }

    /// Parses a URI made by `string`; nil for anything else (another scheme, a wrong shape,
    /// a malformed `%` escape, bytes that are not UTF-8, an empty tenant or label).
    public init?(parsing uri: String) {
        let prefix = "cairn://"
        guard uri.hasPrefix(prefix) else { return nil }
        let parts = uri.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[3] == "blocks" else { return nil }
        guard let tenant = Self.decode(parts[0]), let task = Self.decode(parts[1]),
            let role = Self.decode(parts[2]), let label = Self.decode(parts[4]),
            !tenant.isEmpty, !label.isEmpty
        else { return nil }
        self.init(tenant: tenant, task: task.isEmpty ? nil : task, role: role.isEmpty ? nil : role, label: label)
    }

    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default: false
        }
    }

    static func encode(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if isUnreserved(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: Substring) -> String? {
        func hexValue(_ b: UInt8) -> UInt8? {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
            case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
            case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) else { return nil }
                out.append(hi << 4 | lo)
                i += 3
            } else {
                guard isUnreserved(b) else { return nil }
                out.append(b)
                i += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }
}
