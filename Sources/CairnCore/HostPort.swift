/// A `host:port` address as people write it in flags, environment variables and `cairn://` URLs:
/// `host:port`, `[v6]:port` (an IPv6 host in brackets), and, where the caller allows it, `:port`
/// (a wildcard host) or `host` alone (a default port). The one parser of such addresses: cairnd's
/// listeners, the MCP listener and the Swift client's URLs all read them here.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`, with an IPv6 host in brackets (`[::1]:7420`), so that it parses back.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// What is wrong with an address; the caller turns it into a message in its own terms.
    public enum Problem: Error, Sendable, Equatable {
        /// No `:port`, and no default port to use.
        case noPort
        /// The port is not a decimal number in the allowed range, or text after `]` is not `:port`.
        case badPort
        /// No host, and no wildcard host to use.
        case noHost
        /// A `[` without its `]`.
        case unclosedBracket
    }

    /// Parses `host:port` or `[v6]:port`. A host left out (`:port`) becomes `wildcardHost`, or is
    /// a problem when that is nil; a port left out becomes `defaultPort`, or is a problem when that
    /// is nil. A port is decimal digits only (no sign) within `ports`. A host with colons but no
    /// brackets (`::1:7420`) takes the text after its last colon as the port.
    public static func parse(
        _ text: some StringProtocol, wildcardHost: String? = nil, defaultPort: Int? = nil, ports: ClosedRange<Int> = 0...65535
    ) throws(Problem) -> HostPort {
        let text = Substring(text)
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .unclosedBracket }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .badPort }
                portText = after.dropFirst()
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            host = text
        }
        let port: Int
        if let portText {
            guard !portText.isEmpty, portText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                let number = Int(portText), ports.contains(number)
            else { throw .badPort }
            port = number
        } else if let defaultPort {
            port = defaultPort
        } else {
            throw .noPort
        }
        if host.isEmpty {
            guard let wildcardHost else { throw .noHost }
            host = Substring(wildcardHost)
        }
        return HostPort(host: String(host), port: port)
    }

    /// A listener's address: `host:port`, `[v6]:port` or `:port` (every interface, 0.0.0.0); port
    /// 0 lets the system pick a free one. `what` names the address in the errors ("metrics
    /// address" → "metrics address must be host:port (got \"x\")").
    public static func listenAddress(_ text: String, what: String, field: String = "listen") throws(CairnError) -> HostPort {
        do throws(Problem) {
            return try parse(text, wildcardHost: "0.0.0.0")
        } catch .badPort {
            throw CairnError.invalidParams(field, "\(what) has a bad port: \(text.debugDescription)")
        } catch {
            throw CairnError.invalidParams(field, "\(what) must be host:port (got \(text.debugDescription))")
        }
    }
}
