import CHiredis
import NIOCore

/// hiredis's RESP parser fed from a byte stream: bytes go in as they arrive, whole replies come
/// out. Used by one channel handler on its event loop, never shared.
final class RedisReplyReader {
    private let reader: UnsafeMutablePointer<redisReader>

    init() {
        guard let reader = redisReaderCreate() else { fatalError("hiredis could not allocate a reply reader (out of memory)") }
        self.reader = reader
    }

    deinit { redisReaderFree(reader) }

    /// Adds bytes read from Redis.
    func feed(_ buffer: ByteBuffer) throws(RedisError) {
        let status = buffer.withUnsafeReadableBytes { bytes -> Int32 in
            guard let base = bytes.baseAddress, bytes.count > 0 else { return REDIS_OK }
            return redisReaderFeed(reader, base.assumingMemoryBound(to: CChar.self), bytes.count)
        }
        if status != REDIS_OK { throw protocolError() }
    }

    /// The next complete reply, or nil when more bytes are needed.
    func next() throws(RedisError) -> RedisValue? {
        var raw: UnsafeMutableRawPointer?
        if redisReaderGetReply(reader, &raw) != REDIS_OK { throw protocolError() }
        guard let raw else { return nil }
        defer { freeReplyObject(raw) }
        return RedisReplyReader.convert(raw.assumingMemoryBound(to: redisReply.self))
    }

    private func protocolError() -> RedisError {
        var errstr = reader.pointee.errstr
        let text = withUnsafeBytes(of: &errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return RedisError(.connection, "Redis sent bytes that are not RESP: \(text.isEmpty ? "protocol error" : text)")
    }

    static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            return .string(text(r.str, r.len))
        case REDIS_REPLY_STATUS:
            return .status(text(r.str, r.len))
        case REDIS_REPLY_ERROR:
            return .error(text(r.str, r.len))
        case REDIS_REPLY_INTEGER:
            return .integer(Int(r.integer))
        case REDIS_REPLY_NIL:
            return .null
        case REDIS_REPLY_ARRAY:
            var elements: [RedisValue] = []
            elements.reserveCapacity(r.elements)
            for i in 0..<r.elements {
                if let element = r.element[i] { elements.append(convert(element)) } else { elements.append(.null) }
            }
            return .array(elements)
        default:
            return .error("unknown reply type \(r.type)")
        }
    }

    static func text(_ pointer: UnsafeMutablePointer<CChar>?, _ length: Int) -> String {
        guard let pointer, length > 0 else { return "" }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }
}
