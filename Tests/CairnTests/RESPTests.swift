@testable import CairnRedis
import NIOCore
import Testing

/// The RESP encoder and hiredis's reply reader, without a server.
@Suite struct RESPTests {
    @Test func commandsAreEncodedAsArraysOfBulkStrings() {
        var buffer = ByteBuffer()
        buffer.writeRESP(["SET", "k", "héllo", "", String(repeating: "x", count: 12)])
        let text = String(decoding: buffer.readableBytesView, as: UTF8.self)
        #expect(text == "*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nhéllo\r\n$0\r\n\r\n$12\r\nxxxxxxxxxxxx\r\n")
        #expect(ByteBuffer.estimatedRESPSize([["SET", "k", "héllo", "", String(repeating: "x", count: 12)]]) >= buffer.readableBytes)
    }

    @Test func repliesSplitAnywhereAreReassembled() throws {
        let wire = "+OK\r\n-ERR no\r\n:42\r\n$5\r\nhé!\u{0}\r\n$-1\r\n*3\r\n$1\r\na\r\n*0\r\n:-7\r\n*-1\r\n"
        let expected: [RedisValue] = [
            .status("OK"), .error("ERR no"), .integer(42), .string("hé!\u{0}"), .null,
            .array([.string("a"), .array([]), .integer(-7)]), .null,
        ]
        let bytes = Array(wire.utf8)
        for split in 0...bytes.count {
            let reader = RedisReplyReader()
            var replies: [RedisValue] = []
            for part in [bytes[..<split], bytes[split...]] {
                try reader.feed(ByteBuffer(bytes: part))
                while let reply = try reader.next() { replies.append(reply) }
            }
            #expect(replies == expected, "split at \(split)")
        }
    }

    @Test func bytesThatAreNotRESPAreAConnectionError() {
        let reader = RedisReplyReader()
        #expect(throws: RedisError.self) {
            try reader.feed(ByteBuffer(string: "?what\r\n"))
            _ = try reader.next()
        }
    }
}
