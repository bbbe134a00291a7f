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
        return RedisConnection.convert(raw.assumingMemoryBound(to: redisReply.self))
    }

    private func protocolError() -> RedisError {
        var errstr = reader.pointee.errstr
        let text = withUnsafeBytes(of: &errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return RedisError(.connection, "Redis sent bytes that are not RESP: \(text.isEmpty ? "protocol error" : text)")
    }
}
