import Cairn
import CairnCore
import CairnServer
import Configuration

/// One setting of `cairnd`, written once: its name (the flag without `--`; the environment
/// variable is `CAIRN_` and the name in capitals with `_` for `-`), its default, its lowest value,
/// whether it is a secret, and its help. The flags' help text, the reader's defaults and the
/// checks all come from here, so that they cannot disagree.
public struct CairndSetting: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        case text
        /// A whole number of at least `minimum`.
        case number(minimum: Int)
    }

    public let name: String
    /// The value when neither a flag, the environment nor a secret file gives one; nil: none
    /// (the setting is then off or unset).
    public let defaultValue: String?
    public let kind: Kind
    /// A secret is marked `isSecret` for swift-configuration and never printed as it is.
    public let isSecret: Bool
    /// Whether a command-line flag sets it (a token never is).
    public let hasFlag: Bool
    /// What the setting is, for `--help`; the environment variable and the default are added.
    let about: String
    /// Said after the default in `--help`, e.g. "(24 h)".
    let defaultNote: String?

    init(
        _ name: String, default defaultValue: String? = nil, _ kind: Kind = .text, secret: Bool = false, flag: Bool = true,
        about: String, defaultNote: String? = nil
    ) {
        self.name = name
        self.defaultValue = defaultValue
        self.kind = kind
        self.isSecret = secret
        self.hasFlag = flag
        self.about = about
        self.defaultNote = defaultNote
    }

    public var flag: String { "--\(name)" }

    public var environmentVariable: String {
        "CAIRN_" + String(name.uppercased().map { $0 == "-" ? "_" : $0 })
    }

    /// The key every provider is asked for: `cairn.max.line.bytes`, which swift-configuration's
    /// environment provider looks up as `CAIRN_MAX_LINE_BYTES`.
    var key: ConfigKey {
        ConfigKey(["cairn"] + name.split(separator: "-").map(String.init))
    }

    /// The `--help` text: what it is, its environment variable, its default.
    public var help: String {
        var text = "\(about) Env \(environmentVariable)."
        if let defaultValue { text += " Default \(defaultValue)\(defaultNote.map { " \($0)" } ?? "")." }
        return text
    }

    public var description: String { hasFlag ? flag : environmentVariable }

    public static func == (a: CairndSetting, b: CairndSetting) -> Bool { a.name == b.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }
}

extension CairndSetting {
    /// The defaults the server and the store have as libraries, so that cairnd's are theirs.
    private static let server = ServerConfiguration()
    private static let store = StoreOptions()

    public static let listen = CairndSetting(
        "listen", default: HostPort(host: server.host, port: server.port).description, about: "host:port to listen on.")
    public static let redisURL = CairndSetting(
        "redis-url", secret: true,
        about:
            "Redis URL redis://[[user]:password@]host[:port][/db], or rediss://… for TLS; without one (here, in the environment or in --redis-url-file), cairnd starts its own redis-server (data under --data-dir)."
    )
    public static let redisTLSCA = CairndSetting(
        "redis-tls-ca", about: "PEM CA file that signs Redis's certificate (rediss:// only); without it, the system's CAs.")
    public static let redisTLSCert = CairndSetting(
        "redis-tls-cert", about: "PEM client certificate shown to Redis (rediss://, for tls-auth-clients); needs --redis-tls-key.")
    public static let redisTLSKey = CairndSetting("redis-tls-key", about: "PEM private key of --redis-tls-cert.")
    public static let redisTLSServerName = CairndSetting(
        "redis-tls-server-name", about: "The name Redis's certificate must be for (rediss://); without it, the Redis URL's host.")
    public static let redisURLFile = CairndSetting(
        "redis-url-file",
        about: "File holding the Redis URL, so that its password is in neither the environment nor the process list; --redis-url and CAIRN_REDIS_URL win over it.")
    public static let dataDir = CairndSetting(
        "data-dir", default: ".cairn/data", about: "Folder for the embedded redis-server's data.")
    public static let redisPoolSize = CairndSetting(
        "redis-pool-size", default: "16", .number(minimum: 1),
        about: "Redis connections each event loop may lend out at once (to writes, transactions and multi-command reads).")
    public static let auth = CairndSetting(
        "auth", default: ServerConfiguration.AuthMode.required.rawValue, about: "required or none (development; loopback only).")
    public static let adminTokenFile = CairndSetting(
        "admin-token-file",
        about: "File of server-wide admin tokens, one per line ('#' starts a comment); CAIRN_ADMIN_TOKEN adds one more (a token itself is never a flag).")
    /// One more admin token, from the environment only.
    public static let adminToken = CairndSetting("admin-token", secret: true, flag: false, about: "One server-wide admin token.")
    public static let metricsListen = CairndSetting(
        "metrics-listen", default: "127.0.0.1:9420", about: "host:port for Prometheus /metrics, or 'off'.")
    public static let maxLineBytes = CairndSetting(
        "max-line-bytes", default: String(server.maxLineBytes), .number(minimum: 1024), about: "Longest request line in bytes.")
    public static let maxValueBytes = CairndSetting(
        "max-value-bytes", default: String(store.maxValueBytes), .number(minimum: 16), about: "Largest value in bytes of JSON.")
    public static let maxConnections = CairndSetting(
        "max-connections", default: String(server.maxConnections), .number(minimum: 1), about: "Most open client connections.")
    public static let authTimeoutMs = CairndSetting(
        "auth-timeout-ms", default: String(server.authTimeoutMilliseconds), .number(minimum: 1),
        about: "Milliseconds a connection has to authenticate before it is told so and closed (auth required only).")
    public static let maxSubscriptions = CairndSetting(
        "max-subscriptions", default: String(server.maxSubscriptionsPerConnection), .number(minimum: 1),
        about: "Subscriptions one connection may hold.")
    public static let maxBufferedEvents = CairndSetting(
        "max-buffered-events", default: String(server.maxBufferedEvents), .number(minimum: 10),
        about: "Events a subscription may have waiting to be sent before it is dropped with a resync.")
    public static let maxEventBufferBytes = CairndSetting(
        "max-event-buffer-bytes", default: String(server.maxEventBufferBytes), .number(minimum: 65_536),
        about:
            "Bytes of change events all subscriptions together may have waiting to be sent; past it the subscription holding the most is dropped with a resync."
    )
    public static let maxPendingOutputBytes = CairndSetting(
        "max-pending-output-bytes", default: String(server.maxPendingOutputBytes), .number(minimum: 65_536),
        about: "Bytes of unsent output per connection before the server stops reading its requests.")
    public static let historyLimit = CairndSetting(
        "history-limit", default: String(store.historyLimit), .number(minimum: 1), about: "Versions of history kept per item.")
    public static let streamLength = CairndSetting(
        "stream-length", default: String(store.streamLength), .number(minimum: 1), about: "Entries kept in each tenant's change stream.")
    public static let requestIdRetentionMs = CairndSetting(
        "request-id-retention-ms", default: String(store.requestIDRetentionMs), .number(minimum: 1000),
        about: "How long a write's request_id is remembered (replays answer the first result), in ms.",
        defaultNote: store.requestIDRetentionMs % 3_600_000 == 0 ? "(\(store.requestIDRetentionMs / 3_600_000) h)" : nil)
    public static let keyPrefix = CairndSetting("key-prefix", default: store.keyPrefix, about: "Prefix of every Redis key.")
    public static let logLevel = CairndSetting(
        "log-level", default: "info", about: "trace, debug, info, notice, warning, error or critical.")
    public static let tlsCert = CairndSetting(
        "tls-cert", about: "PEM certificate chain: with --tls-key, the listener (and the metrics listener) speak TLS only; re-read on SIGHUP.")
    public static let tlsKey = CairndSetting("tls-key", about: "PEM private key of --tls-cert; re-read on SIGHUP.")
    public static let tlsClientCA = CairndSetting(
        "tls-client-ca", about: "PEM CA file: clients must present a certificate it signed (mutual TLS; tokens are still required).")
    public static let mcpListen = CairndSetting(
        "mcp-listen", default: "off",
        about: "host:port for the MCP Streamable HTTP endpoint (/mcp; sessions authenticate with Authorization: Bearer), or 'off'.")

    /// Every setting, in the order of `--help` and of the start-up line.
    public static let all: [CairndSetting] = [
        listen, redisURL, redisURLFile, redisTLSCA, redisTLSCert, redisTLSKey, redisTLSServerName, dataDir, redisPoolSize, auth, adminTokenFile, adminToken, metricsListen, maxLineBytes,
        maxValueBytes, maxConnections, authTimeoutMs, maxSubscriptions, maxBufferedEvents, maxEventBufferBytes,
        maxPendingOutputBytes, historyLimit, streamLength, requestIdRetentionMs, keyPrefix, logLevel, tlsCert, tlsKey, tlsClientCA,
        mcpListen,
    ]

    /// The environment variables of `all`.
    static let variables = Set(all.map(\.environmentVariable))
}
