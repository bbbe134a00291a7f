import CairnCore
import Testing

@Suite struct HostPortTests {
    func problem(_ text: String, wildcardHost: String? = nil, defaultPort: Int? = nil, ports: ClosedRange<Int> = 0...65535)
        -> HostPort.Problem?
    {
        do {
            _ = try HostPort.parse(text, wildcardHost: wildcardHost, defaultPort: defaultPort, ports: ports)
            return nil
        } catch {
            return error
        }
    }

    @Test func hostsAndPorts() throws {
        #expect(try HostPort.parse("127.0.0.1:7420") == HostPort(host: "127.0.0.1", port: 7420))
        #expect(try HostPort.parse("localhost:0") == HostPort(host: "localhost", port: 0))
        #expect(try HostPort.parse("[::1]:9420") == HostPort(host: "::1", port: 9420))
        #expect(try HostPort.parse("[fe80::1%eth0]:1") == HostPort(host: "fe80::1%eth0", port: 1))
        // Unbracketed colons: the port is after the last one.
        #expect(try HostPort.parse("::1:7420") == HostPort(host: "::1", port: 7420))
    }

    @Test func aLeftOutHostOrPortIsFilledOnlyWhenTheCallerSaysWithWhat() throws {
        #expect(try HostPort.parse(":7420", wildcardHost: "0.0.0.0") == HostPort(host: "0.0.0.0", port: 7420))
        #expect(problem(":7420") == .noHost)
        #expect(try HostPort.parse("db", defaultPort: 7420) == HostPort(host: "db", port: 7420))
        #expect(try HostPort.parse("[::1]", defaultPort: 7420) == HostPort(host: "::1", port: 7420))
        #expect(problem("db") == .noPort)
        #expect(problem("[::1]") == .noPort)
        #expect(problem("", defaultPort: 7420) == .noHost)
    }

    @Test func badPortsAndBrackets() {
        for text in ["h:", "h:x", "h:+80", "h:-1", "h:65536", "h:99999999999999999999", "[::1]:", "[::1]x", "[::1]:8x", "h: 80"] {
            #expect(problem(text) == .badPort, "\(text)")
        }
        #expect(problem("h:0", ports: 1...65535) == .badPort)
        #expect(problem("[::1") == .unclosedBracket)
        #expect(problem("[::1:7420") == .unclosedBracket)
    }

    @Test func descriptionParsesBack() throws {
        for address in [HostPort(host: "127.0.0.1", port: 7420), HostPort(host: "::1", port: 0), HostPort(host: "db.internal", port: 6379)] {
            #expect(try HostPort.parse(address.description) == address)
        }
        #expect(HostPort(host: "::1", port: 7420).description == "[::1]:7420")
    }

    @Test func listenAddressesSayWhatIsWrongInTheCallersTerms() throws {
        #expect(try HostPort.listenAddress(":9", what: "metrics address") == HostPort(host: "0.0.0.0", port: 9))
        func message(_ text: String) -> String? {
            do {
                _ = try HostPort.listenAddress(text, what: "metrics address")
                return nil
            } catch {
                return error.message
            }
        }
        #expect(message("localhost") == #"metrics address must be host:port (got "localhost")"#)
        #expect(message("[::1") == #"metrics address must be host:port (got "[::1")"#)
        #expect(message("h:http") == #"metrics address has a bad port: "h:http""#)
    }
}

@Suite struct RedactionTests {
    @Test func urlPasswordsAreMaskedAndTheRestKept() {
        #expect(Redaction.url("redis://:s3cret@db:6379/0") == "redis://:***@db:6379/0")
        #expect(Redaction.url("redis://app:s3cret@db") == "redis://app:***@db")
        // A password alone (Redis URLs allow it) is shown as one, with an empty user.
        #expect(Redaction.url("redis://s3cret@db") == "redis://:***@db")
        // The user info ends at the last @, as the Redis URL parser reads it.
        #expect(Redaction.url("redis://:p@ss@db:1") == "redis://:***@db:1")
        #expect(Redaction.url("redis://db:6379/0") == "redis://db:6379/0")
        #expect(Redaction.url("s3cret@db") == "***@db")
        for url in ["redis://:s3cret@db", "redis://u:s3cret@db", "redis://s3cret@db", "s3cret@db", "redis://:p@s3cret@db"] {
            #expect(!Redaction.url(url).contains("s3cret"), "\(url)")
        }
    }
}
