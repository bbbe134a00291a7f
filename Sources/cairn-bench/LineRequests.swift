import CairnCore
import CairnProtocol
import NIOCore

/// The `get` and `put` requests of the hot workloads, written straight into a `ByteBuffer`
/// without building a `JSONValue` for each: the bytes around the key, value and version are
/// those of `RPC.Get`/`RPC.Put`'s own encoding (made once, with markers in the slots, and cut at
/// the markers), so the driver cannot drift from what `CairnClient` sends. `verify` checks the
/// result against whole encodings at set-up.
struct LineRequests: Sendable {
    /// `,"method":"get","params":{"ns":{…},"key":` · key · `}}`
    private let get: RequestTemplate
    /// `,"method":"put","params":{"ns":{…},"key":` · key · `,"value":` · value · `}}`
    private let put: RequestTemplate
    /// The same with `,"if_version":` · version before the end.
    private let putIfVersion: RequestTemplate
    private let value: SampleBytes

    init(ns: Namespace) throws {
        let key = RequestTemplate.stringMarker("key"), value = RequestTemplate.stringMarker("value")
        let version = RequestTemplate.intMarker
        get = try RequestTemplate(RPC.Get(ns, key: key), slots: [.string(key)])
        put = try RequestTemplate(RPC.Put(ns, key: key, value: .string(value)), slots: [.string(key), .string(value)])
        putIfVersion = try RequestTemplate(
            RPC.Put(ns, key: key, value: .string(value), ifVersion: version), slots: [.string(key), .string(value), .int(version)])
        self.value = SampleBytes()
    }

    /// The start of every request: `{"jsonrpc":"2.0","id":` and the id.
    static func writeID(_ id: Int, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"jsonrpc":"2.0","id":"#)
        buffer.writeDecimal(id)
    }

    /// The rest of `get` of the key `prefix` + `number` (as in `k17`).
    func get(_ prefix: StaticString, _ number: Int, into buffer: inout ByteBuffer) {
        buffer.writeBytes(get.parts[0])
        Self.writeKey(prefix, number, into: &buffer)
        buffer.writeBytes(get.parts[1])
    }

    /// The rest of `put` of `Sample.value(sample)` at the key `prefix` + `number`, with
    /// `if_version` when given.
    func put(_ prefix: StaticString, _ number: Int, sample: Int, ifVersion: Int? = nil, into buffer: inout ByteBuffer) {
        let template = ifVersion == nil ? put : putIfVersion
        buffer.writeBytes(template.parts[0])
        Self.writeKey(prefix, number, into: &buffer)
        buffer.writeBytes(template.parts[1])
        value.write(sample, into: &buffer)
        buffer.writeBytes(template.parts[2])
        if let ifVersion {
            buffer.writeDecimal(ifVersion)
            buffer.writeBytes(template.parts[3])
        }
    }

    private static func writeKey(_ prefix: StaticString, _ number: Int, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeStaticString(prefix)
        buffer.writeDecimal(number)
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    /// Throws unless the bytes written here equal the method values' whole encoding for the
    /// same calls (a few ids, keys and values), as `CairnClient` sends them.
    func verify(ns: Namespace) throws {
        for n in [0, 1, 7, 16, 99, 12_345, 987_654_321] {
            var expected: [UInt8] = []
            var lean = ByteBuffer()
            RPC.Get(ns, key: "k\(n)").request(id: n, into: &expected)
            Self.writeID(n, into: &lean)
            get("k", n, into: &lean)
            try Self.compare(lean, expected, "get")

            for ifVersion in [nil, n % 5] {
                expected = []
                lean.clear()
                RPC.Put(ns, key: "w\(n)", value: Sample.value(n), ifVersion: ifVersion).request(id: n, into: &expected)
                Self.writeID(n, into: &lean)
                put("w", n, sample: n, ifVersion: ifVersion, into: &lean)
                try Self.compare(lean, expected, "put")
            }
        }
    }

    private static func compare(_ lean: ByteBuffer, _ expected: [UInt8], _ method: String) throws {
        guard Array(lean.readableBytesView) == expected else {
            throw BenchFailure(
                "the line driver's \(method) request differs from CairnClient's: \(String(buffer: lean)) vs \(String(decoding: expected, as: UTF8.self))")
        }
    }
}

extension ByteBuffer {
    /// Writes `n` in decimal, without making a `String`.
    mutating func writeDecimal(_ n: Int) {
        if n < 0 { writeInteger(UInt8(ascii: "-")) }
        var magnitude = n.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        var count = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[23 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            _ = writeBytes(UnsafeRawBufferPointer(rebasing: d[(24 - count)...]))
        }
    }
}
