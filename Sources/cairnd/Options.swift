import ArgumentParser
import Cairn
import CairnServer
import Foundation

/// `cairnd`'s settings: each flag falls back to its environment variable, then to a default.
struct Options: ParsableArguments {
    @Option(help: "host:port to listen on. Env CAIRN_LISTEN. Default 127.0.0.1:7420.")
    var listen: String?

    @Option(help: "Redis URL redis://[[user]:password@]host[:port][/db]. Env CAIRN_REDIS_URL. Without one, cairnd starts its own redis-server (data under --data-dir).")
    var redisURL: String?

    @Option(help: "Folder for the embedded redis-server's data. Env CAIRN_DATA_DIR. Default .cairn/data.")
    var dataDir: String?

    @Option(help: "Redis connections (and threads) in the blocking pool, and connections each event loop may lend to writes at once. Env CAIRN_REDIS_POOL_SIZE. Default 16.")
    var redisPoolSize: Int?

    @Option(help: "required or none (development; loopback only). Env CAIRN_AUTH. Default required.")
    var auth: String?

    @Option(help: "File of server-wide admin tokens, one per line. Env CAIRN_ADMIN_TOKEN_FILE. (Env CAIRN_ADMIN_TOKEN also adds one; never pass a token as a flag.)")
    var adminTokenFile: String?

    @Option(help: "host:port for Prometheus /metrics, or 'off'. Env CAIRN_METRICS_LISTEN. Default 127.0.0.1:9420.")
    var metricsListen: String?

    @Option(help: "Longest request line in bytes. Env CAIRN_MAX_LINE_BYTES. Default 1048576.")
    var maxLineBytes: Int?

    @Option(help: "Largest value in bytes of JSON. Env CAIRN_MAX_VALUE_BYTES. Default 262144.")
    var maxValueBytes: Int?

    @Option(help: "Most open client connections. Env CAIRN_MAX_CONNECTIONS. Default 10000.")
    var maxConnections: Int?

    @Option(help: "Milliseconds a connection has to authenticate before it is told so and closed (auth required only). Env CAIRN_AUTH_TIMEOUT_MS. Default 10000.")
    var authTimeoutMs: Int?

    @Option(help: "Subscriptions one connection may hold. Env CAIRN_MAX_SUBSCRIPTIONS. Default 16.")
    var maxSubscriptions: Int?

    @Option(help: "Events a subscription may have waiting to be sent before it is dropped with a resync. Env CAIRN_MAX_BUFFERED_EVENTS. Default 10000.")
    var maxBufferedEvents: Int?

    @Option(help: "Bytes of change events all subscriptions together may have waiting to be sent; past it the subscription holding the most is dropped with a resync. Env CAIRN_MAX_EVENT_BUFFER_BYTES. Default 67108864.")
    var maxEventBufferBytes: Int?

    @Option(help: "Bytes of unsent output per connection before the server stops reading its requests. Env CAIRN_MAX_PENDING_OUTPUT_BYTES. Default 4194304.")
    var maxPendingOutputBytes: Int?

    @Option(help: "Versions of history kept per item. Env CAIRN_HISTORY_LIMIT. Default 100.")
    var historyLimit: Int?

    @Option(help: "Entries kept in each tenant's change stream. Env CAIRN_STREAM_LENGTH. Default 100000.")
    var streamLength: Int?

    @Option(help: "How long a write's request_id is remembered (replays answer the first result), in ms. Env CAIRN_REQUEST_ID_RETENTION_MS. Default 86400000 (24 h).")
    var requestIdRetentionMs: Int?

    @Option(help: "Prefix of every Redis key. Env CAIRN_KEY_PREFIX. Default cairn.")
    var keyPrefix: String?

    @Option(help: "trace, debug, info, notice, warning, error. Env CAIRN_LOG_LEVEL. Default info.")
    var logLevel: String?

    @Option(help: "PEM certificate chain: with --tls-key, the listener (and the metrics listener) speak TLS only; re-read on SIGHUP. Env CAIRN_TLS_CERT.")
    var tlsCert: String?

    @Option(help: "PEM private key of --tls-cert; re-read on SIGHUP. Env CAIRN_TLS_KEY.")
    var tlsKey: String?

    @Option(help: "PEM CA file: clients must present a certificate it signed (mutual TLS; tokens are still required). Env CAIRN_TLS_CLIENT_CA.")
    var tlsClientCa: String?

    @Option(help: "host:port for the MCP Streamable HTTP endpoint (/mcp; sessions authenticate with Authorization: Bearer), or 'off'. Env CAIRN_MCP_LISTEN. Default off.")
    var mcpListen: String?
}

/// The settings after flags, environment and defaults are merged and checked.
struct Settings {
    var listenHost: String
    var listenPort: Int
    var redisURL: String?
    var dataDirectory: String
    var poolSize: Int
    var auth: ServerConfiguration.AuthMode
    var adminTokens: [String]
    var adminTokenSources: [String]
    var metricsHost: String?
    var metricsPort: Int
    var maxLineBytes: Int
    var maxConnections: Int
    var authTimeoutMilliseconds: Int
    var maxSubscriptions: Int
    var maxBufferedEvents: Int
    var maxEventBufferBytes: Int
    var maxPendingOutputBytes: Int
    var storeOptions: StoreOptions
    var logLevel: String
    /// Where the MCP HTTP endpoint listens; nil when off.
    var mcpListen: (host: String, port: Int)?
    /// TLS on the listeners; nil: plaintext.
    var tls: ServerTLSSettings?

    init(_ o: Options, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        func env(_ name: String) -> String? {
            guard let v = environment[name], !v.isEmpty else { return nil }
            return v
        }
        func int(_ flag: Int?, _ name: String, _ fallback: Int, min: Int = 1) throws -> Int {
            if let flag { return try Settings.atLeast(flag, min, name) }
            guard let text = env(name) else { return fallback }
            guard let v = Int(text) else { throw ValidationError("\(name)=\(text) is not a number") }
            return try Settings.atLeast(v, min, name)
        }
        (listenHost, listenPort) = try Settings.hostPort(o.listen ?? env("CAIRN_LISTEN") ?? "127.0.0.1:7420", what: "listen address")
        redisURL = o.redisURL ?? env("CAIRN_REDIS_URL")
        dataDirectory = o.dataDir ?? env("CAIRN_DATA_DIR") ?? ".cairn/data"
        poolSize = try int(o.redisPoolSize, "CAIRN_REDIS_POOL_SIZE", 16)
        let authText = o.auth ?? env("CAIRN_AUTH") ?? "required"
        guard let auth = ServerConfiguration.AuthMode(rawValue: authText) else {
            throw ValidationError("auth must be 'required' or 'none', not \(authText.debugDescription)")
        }
        self.auth = auth
        adminTokens = []
        adminTokenSources = []
        if let file = o.adminTokenFile ?? env("CAIRN_ADMIN_TOKEN_FILE") {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ValidationError("cannot read the admin token file \(file)")
            }
            let tokens = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            adminTokens += tokens
            adminTokenSources.append("\(tokens.count) from \(file)")
        }
        if let token = env("CAIRN_ADMIN_TOKEN") {
            adminTokens.append(token)
            adminTokenSources.append("1 from CAIRN_ADMIN_TOKEN")
        }
        if let weak = adminTokens.first(where: { $0.count < 16 }) {
            _ = weak
            throw ValidationError("admin tokens must be at least 16 characters long (use e.g. `openssl rand -hex 32`)")
        }
        let metrics = o.metricsListen ?? env("CAIRN_METRICS_LISTEN") ?? "127.0.0.1:9420"
        if metrics == "off" {
            metricsHost = nil
            metricsPort = 0
        } else {
            let (h, p) = try Settings.hostPort(metrics, what: "metrics address")
            metricsHost = h
            metricsPort = p
        }
        maxLineBytes = try int(o.maxLineBytes, "CAIRN_MAX_LINE_BYTES", 1_048_576, min: 1024)
        maxConnections = try int(o.maxConnections, "CAIRN_MAX_CONNECTIONS", 10_000)
        authTimeoutMilliseconds = try int(o.authTimeoutMs, "CAIRN_AUTH_TIMEOUT_MS", 10_000)
        maxSubscriptions = try int(o.maxSubscriptions, "CAIRN_MAX_SUBSCRIPTIONS", 16)
        maxBufferedEvents = try int(o.maxBufferedEvents, "CAIRN_MAX_BUFFERED_EVENTS", 10_000, min: 10)
        maxEventBufferBytes = try int(o.maxEventBufferBytes, "CAIRN_MAX_EVENT_BUFFER_BYTES", 64 * 1_048_576, min: 65_536)
        maxPendingOutputBytes = try int(o.maxPendingOutputBytes, "CAIRN_MAX_PENDING_OUTPUT_BYTES", 4 * 1_048_576, min: 65_536)
        storeOptions = StoreOptions(
            keyPrefix: o.keyPrefix ?? env("CAIRN_KEY_PREFIX") ?? "cairn",
            historyLimit: try int(o.historyLimit, "CAIRN_HISTORY_LIMIT", 100),
            streamLength: try int(o.streamLength, "CAIRN_STREAM_LENGTH", 100_000),
            maxValueBytes: try int(o.maxValueBytes, "CAIRN_MAX_VALUE_BYTES", 256 * 1024, min: 16),
            requestIDRetentionMs: try int(o.requestIdRetentionMs, "CAIRN_REQUEST_ID_RETENTION_MS", 86_400_000, min: 1000))
        if storeOptions.keyPrefix.isEmpty || storeOptions.keyPrefix.contains("{") || storeOptions.keyPrefix.contains("}") {
            throw ValidationError("the key prefix must be non-empty and hold no braces")
        }
        logLevel = o.logLevel ?? env("CAIRN_LOG_LEVEL") ?? "info"
        let mcp = o.mcpListen ?? env("CAIRN_MCP_LISTEN") ?? "off"
        mcpListen = mcp == "off" ? nil : try Settings.hostPort(mcp, what: "MCP listen address")
        let tlsCert = o.tlsCert ?? env("CAIRN_TLS_CERT")
        let tlsKey = o.tlsKey ?? env("CAIRN_TLS_KEY")
        let tlsClientCA = o.tlsClientCa ?? env("CAIRN_TLS_CLIENT_CA")
        switch (tlsCert, tlsKey) {
        case (let cert?, let key?):
            tls = ServerTLSSettings(certificateFile: cert, keyFile: key, clientCAFile: tlsClientCA)
        case (nil, nil):
            if tlsClientCA != nil { throw ValidationError("--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS)") }
            tls = nil
        default:
            throw ValidationError("TLS needs both --tls-cert and --tls-key (CAIRN_TLS_CERT, CAIRN_TLS_KEY)")
        }
        if tls != nil, mcpListen != nil {
            // The MCP endpoint is plain HTTP and reaches this listener as a plain client.
            throw ValidationError(
                "--mcp-listen does not work with TLS yet (its HTTP endpoint is not TLS); run `cairn mcp --listen` against the cairns:// URL instead, or drop --mcp-listen")
        }
    }

    static func atLeast(_ v: Int, _ min: Int, _ name: String) throws -> Int {
        guard v >= min else { throw ValidationError("\(name) must be at least \(min) (got \(v))") }
        return v
    }

    /// `host:port`, `[v6]:port` or `:port` (all interfaces).
    static func hostPort(_ text: String, what: String) throws -> (String, Int) {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(after: close)...].dropFirst()
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            throw ValidationError("\(what) must be host:port (got \(text.debugDescription))")
        }
        if host.isEmpty { host = "0.0.0.0" }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ValidationError("\(what) has a bad port: \(text.debugDescription)")
        }
        return (String(host), port)
    }

    /// One line for the log: every setting, no secrets.
    var summary: String {
        [
            "listen=\(listenHost):\(listenPort)",
            "redis=\(redisURL.flatMap { try? RedisURLSummary.redact($0) } ?? "embedded (data in \(dataDirectory))")",
            "pool=\(poolSize)", "auth=\(auth.rawValue)",
            "admin_tokens=\(adminTokenSources.isEmpty ? "none" : adminTokenSources.joined(separator: ", "))",
            "metrics=\(metricsHost.map { "\($0):\(metricsPort)" } ?? "off")", "max_line_bytes=\(maxLineBytes)",
            "max_value_bytes=\(storeOptions.maxValueBytes)", "max_connections=\(maxConnections)", "auth_timeout_ms=\(authTimeoutMilliseconds)",
            "max_subscriptions=\(maxSubscriptions)", "max_buffered_events=\(maxBufferedEvents)",
            "max_event_buffer_bytes=\(maxEventBufferBytes)",
            "max_pending_output_bytes=\(maxPendingOutputBytes)",
            "history_limit=\(storeOptions.historyLimit)", "stream_length=\(storeOptions.streamLength)",
            "key_prefix=\(storeOptions.keyPrefix)", "request_id_retention_ms=\(storeOptions.requestIDRetentionMs)",
            "mcp=\(mcpListen.map { "\($0.host):\($0.port)" } ?? "off")",
            "tls=\(tls.map { "cert \($0.certificateFile)" + ($0.clientCAFile.map { ", client CA \($0)" } ?? "") } ?? "off")",
        ].joined(separator: " ")
    }
}

enum RedisURLSummary {
    static func redact(_ url: String) throws -> String {
        guard let at = url.lastIndex(of: "@"), let scheme = url.range(of: "://") else { return url }
        return String(url[..<scheme.upperBound]) + "***" + String(url[at...])
    }
}
