import CairnClient
import CairnCore
import Foundation

/// Limits and defaults of the Streamable HTTP endpoint.
public struct MCPHTTPConfiguration: Sendable {
    /// cairnd to connect each session to (with the session's bearer token).
    public var cairnURL: String
    public var host: String
    public var port: Int
    /// The endpoint path.
    public var path = "/mcp"
    /// Open MCP sessions at once; an `initialize` beyond it gets 503.
    public var maxSessions = 100
    /// A session with no request and no open stream for this long is closed.
    public var idleTimeout: Duration = .seconds(600)
    /// Largest request body.
    public var maxBodyBytes = 1 << 20
    /// Bytes of SSE one session may send. The SDK's transport keeps every message it sent for
    /// `Last-Event-ID` replay until the session ends, so a session past this budget is closed
    /// (its client initializes a new one) rather than let that store grow without bound.
    public var maxSessionBytes = 64 << 20
    /// A request must arrive whole within this time.
    public var requestTimeout: Duration = .seconds(30)
    /// Used when a session names none (`cairn mcp --listen --tenant … --agent …`).
    public var defaultTenant: String?
    public var defaultAgent: String?
    public var defaultTask: String?
    public var defaultRole: String?
    /// For a cairns:// `cairnURL`: whom the sessions' connections trust and what they show.
    public var cairnTLS = ClientTLSOptions.fromEnvironment()
    /// How long each session's connections wait for cairnd's greeting.
    public var connectTimeout = ConnectTimeout.default

    public init(cairnURL: String, host: String, port: Int) {
        self.cairnURL = cairnURL
        self.host = host
        self.port = port
    }

    var isLoopback: Bool { host == "127.0.0.1" || host == "localhost" || host == "::1" || host.hasPrefix("127.") }
}

/// Who an HTTP session is: `tenant`, `agent`, `task`, `role` from the query string of the
/// `initialize` request (or `Cairn-Tenant`, `Cairn-Agent`, `Cairn-Task`, `Cairn-Role` headers),
/// else the listener's defaults, else (tenant only) the token's own tenant.
enum HTTPSessionIdentity {
    static func settings(
        path: String, headers: [String: String], configuration: MCPHTTPConfiguration, tokenTenant: String?
    ) throws(CairnError) -> SessionSettings {
        let query = Self.query(path)
        func value(_ name: String) -> String? {
            if let v = query[name], !v.isEmpty { return v }
            if let v = headers.first(where: { $0.key.lowercased() == "cairn-\(name)" })?.value, !v.isEmpty { return v }
            return nil
        }
        guard let tenant = value("tenant") ?? configuration.defaultTenant ?? tokenTenant else {
            throw CairnError.invalidParams("tenant", "name the tenant: ?tenant=… on the endpoint URL (or a Cairn-Tenant header)")
        }
        guard let agent = value("agent") ?? configuration.defaultAgent else {
            throw CairnError.invalidParams("agent", "name the agent: ?agent=… on the endpoint URL (or a Cairn-Agent header)")
        }
        return try SessionSettings(
            url: configuration.cairnURL, tenant: tenant, agent: agent,
            task: value("task") ?? configuration.defaultTask, role: value("role") ?? configuration.defaultRole)
    }

    /// The query parameters of a request target, percent-decoded (`+` is a space).
    static func query(_ target: String) -> [String: String] {
        guard let q = target.firstIndex(of: "?") else { return [:] }
        var out: [String: String] = [:]
        for pair in target[target.index(after: q)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts[0].replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(parts[0])
            let value = parts.count > 1 ? (parts[1].replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(parts[1])) : ""
            out[name] = value
        }
        return out
    }

    static func pathOnly(_ target: String) -> String {
        target.firstIndex(of: "?").map { String(target[..<$0]) } ?? target
    }
}

/// `host:port`, `[v6]:port` or `:port` (all interfaces) for an MCP HTTP listener.
public enum MCPListenAddress {
    public static func parse(_ text: String) throws(CairnError) -> (host: String, port: Int) {
        let address = try HostPort.listenAddress(text, what: "the MCP listen address")
        return (address.host, address.port)
    }
}
