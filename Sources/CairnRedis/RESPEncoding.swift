import NIOCore

extension ByteBuffer {
    /// Appends `command` in the Redis protocol (RESP): an array of bulk strings.
    public mutating func writeRESP(_ command: RedisCommand) {
        writeInteger(UInt8(ascii: "*"))
        writeDecimal(command.arguments.count)
        writeCRLF()
        for argument in command.arguments {
            writeInteger(UInt8(ascii: "$"))
            writeDecimal(argument.utf8.count)
            writeCRLF()
            writeString(argument)
            writeCRLF()
        }
    }

    /// The bytes `writeRESP` would append, roughly (for sizing a buffer).
    static func estimatedRESPSize(_ commands: [RedisCommand]) -> Int {
        var total = 0
        for command in commands {
            total += 16
            for argument in command.arguments { total += argument.utf8.count + 16 }
        }
        return total
    }

    private mutating func writeCRLF() {
        writeInteger(UInt16(0x0D0A), endianness: .big)
    }

    /// A non-negative integer in decimal, without making a String.
    private mutating func writeDecimal(_ value: Int) {
        precondition(value >= 0, "RESP lengths are never negative")
        if value < 10 {
            writeInteger(UInt8(ascii: "0") &+ UInt8(value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for any Int
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { raw in
            while rest > 0 {
                count += 1
                raw[24 - count] = UInt8(ascii: "0") &+ UInt8(rest % 10)
                rest /= 10
            }
            writeBytes(UnsafeRawBufferPointer(rebasing: raw[(24 - count)...]))
        }
    }
}
