import CairnClient
import CairnCore
import Testing

/// `CairnClient.parseTarget` reads host:port with the shared `HostPort` parser.
@Suite struct ParseTargetTests {
    func message(_ url: String) -> String? {
        do {
            _ = try CairnClient.parseTarget(url: url)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func hostsPortsAndTheDefaultPort() throws {
        #expect(try CairnClient.parseTarget(url: "cairn://db:7000") == ("db", 7000, false))
        #expect(try CairnClient.parseTarget(url: "cairns://db") == ("db", 7420, true))
        #expect(try CairnClient.parseTarget(url: "cairn://[::1]:7421/") == ("::1", 7421, false))
        #expect(try CairnClient.parseTarget(url: "[::1]") == ("::1", 7420, false))
        #expect(try CairnClient.parseTarget(url: "127.0.0.1:1") == ("127.0.0.1", 1, false))
    }

    @Test func badAddressesAreRefusedWithWhatIsWrong() {
        // A bracketed host's port is checked like any other (it was taken unchecked), and text
        // after `]` that is not `:port` is refused (it was ignored).
        #expect(message("cairn://[::1]:70000") == "bad port in cairn://[::1]:70000; use cairn://host:port")
        #expect(message("cairn://[::1]x") == "bad port in cairn://[::1]x; use cairn://host:port")
        #expect(message("cairn://h:0") == "bad port in cairn://h:0; use cairn://host:port")
        #expect(message("cairn://h:+80") == "bad port in cairn://h:+80; use cairn://host:port")
        #expect(message("cairn://:7420") == "no host in cairn://:7420; use cairn://host:port")
        #expect(message("cairn://") == "no host in cairn://; use cairn://host:port")
        #expect(message("cairn://[::1:7420") == "an IPv6 host without its ] in cairn://[::1:7420; use cairn://[v6]:port")
        #expect(message("https://h:1") == "unknown scheme in https://h:1; use cairn://host:port or cairns://host:port (TLS)")
    }
}
