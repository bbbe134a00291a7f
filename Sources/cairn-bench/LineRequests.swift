import CairnCore
import CairnProtocol
import NIOCore

/// The `get` and `put` requests of the hot workloads, written straight into a `ByteBuffer`:
/// byte for byte what `CairnClient` sends for the same call (`RPCCoding.request` of the same
/// params), without building a `JSONValue` for each. `verify` checks that at set-up.
struct LineRequests: Sendable {
    /// `,"method":"get","params":{"ns":{…},"key":`
    private let getHead: [UInt8]
    /// `,"method":"put","params":{"ns":{…},"key":`
    private let putHead: [UInt8]
    private let value: SampleBytes

    init(ns: Namespace) {
        func head(_ method: String) -> [UInt8] {
            var out = Array(#","method":"#.utf8)
            JSONValue.writeString(method, to: &out)
            out += #","params":{"ns":"#.utf8
            Wire.namespace(ns).write(to: &out)
            out += #","key":"#.utf8
            return out
        }
        getHead = head("get")
        putHead = head("put")
        value = SampleBytes()
    }

    /// The start of every request: `{"jsonrpc":"2.0","id":` and the id.
    static func writeID(_ id: Int, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"jsonrpc":"2.0","id":"#)
        buffer.writeDecimal(id)
    }

    /// The rest of `get` of the key `prefix` + `number` (as in `k17`).
    func get(_ prefix: StaticString, _ number: Int, into buffer: inout ByteBuffer) {
        buffer.writeBytes(getHead)
        Self.writeKey(prefix, number, into: &buffer)
        buffer.writeStaticString("}}")
    }

    /// The rest of `put` of `Sample.value(sample)` at the key `prefix` + `number`, with
    /// `if_version` when given.
    func put(_ prefix: StaticString, _ number: Int, sample: Int, ifVersion: Int? = nil, into buffer: inout ByteBuffer) {
        buffer.writeBytes(putHead)
        Self.writeKey(prefix, number, into: &buffer)
        buffer.writeStaticString(#","value":"#)
        value.write(sample, into: &buffer)
        if let ifVersion {
            buffer.writeStaticString(#","if_version":"#)
            buffer.writeDecimal(ifVersion)
        }
        buffer.writeStaticString("}}")
    }

    private static func writeKey(_ prefix: StaticString, _ number: Int, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeStaticString(prefix)
        buffer.writeDecimal(number)
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    /// Throws unless the bytes written here equal what `CairnClient` would send for the same
    /// calls (a few ids, keys and values).
    func verify(ns: Namespace) throws {
        for n in [0, 1, 7, 16, 99, 12_345, 987_654_321] {
            var expected: [UInt8] = []
            var lean = ByteBuffer()
            RPCCoding.request(
                id: n, method: "get", params: ["ns": Wire.namespace(ns), "key": .string("k\(n)")], into: &expected)
            Self.writeID(n, into: &lean)
            get("k", n, into: &lean)
            try Self.compare(lean, expected, "get")

            expected = []
            lean.clear()
            RPCCoding.request(
                id: n, method: "put",
                params: ["ns": Wire.namespace(ns), "key": .string("w\(n)"), "value": Sample.value(n), "if_version": .int(n % 5)],
                into: &expected)
            Self.writeID(n, into: &lean)
            put("w", n, sample: n, ifVersion: n % 5, into: &lean)
            try Self.compare(lean, expected, "put")
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
