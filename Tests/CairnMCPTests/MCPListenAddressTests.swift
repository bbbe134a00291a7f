import CairnCore
import CairnMCP
import Testing

/// `cairn mcp --listen` reads its address with the shared `HostPort` parser.
@Suite struct MCPListenAddressTests {
    func message(_ text: String) -> String? {
        do {
            _ = try MCPListenAddress.parse(text)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func addresses() throws {
        #expect(try MCPListenAddress.parse("127.0.0.1:7421") == ("127.0.0.1", 7421))
        #expect(try MCPListenAddress.parse(":0") == ("0.0.0.0", 0))
        #expect(try MCPListenAddress.parse("[::1]:7421") == ("::1", 7421))
    }

    @Test func badAddressesSayWhatIsWrong() {
        #expect(message("7421") == #"the MCP listen address must be host:port (got "7421")"#)
        #expect(message("h:x") == #"the MCP listen address has a bad port: "h:x""#)
        // An unclosed bracket is refused (it was read as host "[:" and port 1).
        #expect(message("[::1") == #"the MCP listen address must be host:port (got "[::1")"#)
    }
}
