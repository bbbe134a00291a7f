import Cairn

/// How `cairnd` serves: where it listens, how it authenticates, and its limits.
public struct ServerConfiguration: Sendable {
    public enum AuthMode: String, Sendable {
        /// Every request but `ping`/`auth` needs an authenticated token.
        case required
        /// Development only: every connection may do anything on every tenant. Refused unless
        /// the server listens on loopback only.
        case none
    }

    public var host: String
    /// 0 picks a free port (tests).
    public var port: Int
    public var auth: AuthMode
    /// SHA-256 hashes of the server-wide admin tokens (from a file or the environment).
    public var adminTokenHashes: Set<String>
    /// Longest request line accepted, in bytes.
    public var maxLineBytes: Int
    /// Most open connections; more are answered `too_many` and closed.
    public var maxConnections: Int
    /// Bytes of unsent output a connection may hold before the server stops reading its
    /// requests (a client that does not read its answers stalls itself, not the server).
    public var maxPendingOutputBytes: Int
    /// Most subscriptions one connection may hold.
    public var maxSubscriptionsPerConnection: Int
    /// Events a subscription may have waiting to be sent; past that it gets a `resync` and is
    /// dropped.
    public var maxBufferedEvents: Int
    /// How long a connection has to authenticate, from when it opens, before it is told so and
    /// closed (only with `auth: required`).
    public var authTimeoutMilliseconds: Int
    /// Bytes of events one subscription may have waiting to be sent; past that, as past
    /// `maxBufferedEvents`.
    public var maxBufferedBytesPerSubscription: Int = 4 * 1_048_576
    /// Bytes of events all subscriptions together may have waiting to be sent; past that, the
    /// subscription holding the most gets a `resync` and is dropped.
    public var maxEventBufferBytes: Int = 64 * 1_048_576
    /// With settings, the listener speaks TLS only (and the metrics listener too, when cairnd
    /// runs one); nil: plaintext.
    public var tls: ServerTLSSettings?

    public init(
        host: String = "127.0.0.1", port: Int = 7420, auth: AuthMode = .required, adminTokenHashes: Set<String> = [],
        maxLineBytes: Int = 1_048_576, maxConnections: Int = 10_000, maxPendingOutputBytes: Int = 4 * 1_048_576,
        maxSubscriptionsPerConnection: Int = 16, maxBufferedEvents: Int = 10_000, authTimeoutMilliseconds: Int = 10_000
    ) {
        self.authTimeoutMilliseconds = authTimeoutMilliseconds
        self.maxSubscriptionsPerConnection = maxSubscriptionsPerConnection
        self.maxBufferedEvents = maxBufferedEvents
        self.host = host
        self.port = port
        self.auth = auth
        self.adminTokenHashes = adminTokenHashes
        self.maxLineBytes = maxLineBytes
        self.maxConnections = maxConnections
        self.maxPendingOutputBytes = maxPendingOutputBytes
    }

    /// Whether `host` only accepts connections from this machine.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// Refuses settings that would be unsafe or unusable.
    public func validate() throws(CairnError) {
        if auth == .none, !ServerConfiguration.isLoopback(host) {
            throw CairnError(
                .invalidParams,
                "auth none lets anyone do anything: it is only allowed on a loopback address (127.0.0.1, ::1, localhost), not \(host)",
                data: ["field": "auth"])
        }
        if maxLineBytes < 1024 { throw CairnError.invalidParams("max_line_bytes", "max line bytes must be at least 1024") }
        if authTimeoutMilliseconds < 1 {
            throw CairnError.invalidParams("auth_timeout_ms", "the auth timeout must be at least 1 ms")
        }
        // Unreadable or mismatched TLS files stop the start here, named, before any socket opens.
        if let tls { _ = try ServerTLS.load(tls) }
        if maxConnections < 1 { throw CairnError.invalidParams("max_connections", "max connections must be at least 1") }
    }
}
