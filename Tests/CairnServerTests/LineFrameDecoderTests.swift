import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@testable import CairnServer

/// The request-line decoder on its own, without a server: NIOTestUtils'
/// `ByteToMessageDecoderVerifier` feeds each input whole, byte by byte and in other splits, and
/// checks that the same frames come out every time and nothing is left behind.
@Suite struct LineFrameDecoderTests {
    static func buffer(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    @Test func linesComeOutWholeHoweverTheBytesArrive() throws {
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [
                (Self.buffer("{\"a\":1}\n"), [.line(Self.buffer("{\"a\":1}"))]),
                (Self.buffer("one\r\ntwo\nthree\r\n"), [.line(Self.buffer("one")), .line(Self.buffer("two")), .line(Self.buffer("three"))]),
                (Self.buffer("\n\r\n"), [.line(Self.buffer("")), .line(Self.buffer(""))]),
                // A \r inside a line stays; only the one before \n goes.
                (Self.buffer("a\rb\n"), [.line(Self.buffer("a\rb"))]),
                // Exactly the limit is a line.
                (Self.buffer(String(repeating: "x", count: 16) + "\n"), [.line(Self.buffer(String(repeating: "x", count: 16)))]),
            ],
            decoderFactory: { LineFrameDecoder(maxLineBytes: 16) })
    }

    @Test func aLineOverTheLimitIsReportedOnceAndTheRestDiscarded() throws {
        // Once too long, everything after it (even complete lines) is dropped: the server answers
        // invalid_line and closes the connection.
        // (Not through the verifier: it feeds one decoder every split of the input in turn, and
        // after .overlong this decoder rightly takes nothing more.) Whole, and byte by byte.
        let cases: [(String, [InboundFrame])] = [
            (String(repeating: "x", count: 17) + "\n", [.overlong]),
            (String(repeating: "y", count: 40) + "\nok\n", [.overlong]),
            ("fine\n" + String(repeating: "z", count: 100), [.line(Self.buffer("fine")), .overlong]),
        ]
        for (input, expected) in cases {
            for split in [input.utf8.count, 1] {
                let channel = EmbeddedChannel(handler: ByteToMessageHandler(LineFrameDecoder(maxLineBytes: 16)))
                var frames: [InboundFrame] = []
                var rest = Substring(input)
                while !rest.isEmpty {
                    try channel.writeInbound(Self.buffer(String(rest.prefix(split))))
                    rest = rest.dropFirst(split)
                    while let frame = try channel.readInbound(as: InboundFrame.self) { frames.append(frame) }
                }
                #expect(frames == expected, "\(input.prefix(20))… in pieces of \(split)")
                _ = try channel.finish()
            }
        }
    }

    @Test func bytesBufferedStayBoundedWhileALongLineArrives() throws {
        // Fed one byte at a time with no newline, the decoder reports .overlong as soon as the
        // line cannot fit, without holding more than the limit (+ terminator) in its buffer.
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(LineFrameDecoder(maxLineBytes: 8)))
        var frames: [InboundFrame] = []
        var reportedAfter: Int?
        for fed in 1...100 {
            try channel.writeInbound(Self.buffer("x"))
            while let frame = try channel.readInbound(as: InboundFrame.self) {
                frames.append(frame)
                reportedAfter = reportedAfter ?? fed
            }
        }
        #expect(frames == [.overlong])
        // 8 bytes may still be a line (its \r\n to come); the 10th cannot be.
        #expect(reportedAfter == 10)
        _ = try channel.finish()
    }

    @Test func aLastLineWithoutNewlineIsStillARequest() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(LineFrameDecoder(maxLineBytes: 16)))
        try channel.writeInbound(Self.buffer("first\nlast"))
        #expect(try channel.readInbound(as: InboundFrame.self) == .line(Self.buffer("first")))
        #expect(try channel.readInbound(as: InboundFrame.self) == nil)
        try channel.close().wait()
        #expect(try channel.readInbound(as: InboundFrame.self) == .line(Self.buffer("last")))
    }
}
