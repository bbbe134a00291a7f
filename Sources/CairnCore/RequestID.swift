/// A client's name for one write, so that the write can be retried and take effect once:
/// 1–128 bytes of UTF-8 without control characters, compared by its bytes, unique per tenant.
public struct RequestID: Sendable, Hashable, CustomStringConvertible {
    public static let maxBytes = 128

    public let text: String

    /// Checks the rules; the error names `field`.
    public init(_ text: String, field: String = "request_id") throws(CairnError) {
        let bytes = text.utf8
        guard (1...RequestID.maxBytes).contains(bytes.count) else {
            throw CairnError.invalidParams(field, "\(field) must be 1–\(RequestID.maxBytes) bytes of UTF-8; it is \(bytes.count)")
        }
        if bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            throw CairnError.invalidParams(field, "\(field) must not contain control characters")
        }
        self.text = text
    }

    public var description: String { text.debugDescription }

    /// Byte-wise: two ids that differ in their UTF-8 bytes are different ids.
    public static func == (a: RequestID, b: RequestID) -> Bool { a.text.utf8.elementsEqual(b.text.utf8) }
    public func hash(into hasher: inout Hasher) { for b in text.utf8 { hasher.combine(b) } }
}

extension CairnError {
    /// The request id already named another write (another method or target).
    public static func requestIDReused(_ id: RequestID) -> CairnError {
        CairnError(
            .invalidParams,
            "request_id \(id) was already used for a write with another method or target; every write needs its own request_id",
            data: ["field": "request_id", "reason_detail": "reused"])
    }
}
