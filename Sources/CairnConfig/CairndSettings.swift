import Cairn
import CairnCore
import CairnRedis
import CairnServer
import Configuration
import Foundation
import Logging

/// A setting that cannot be used, said as cairnd says it at start (exit status 64).
public struct CairndSettingsError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// `cairnd`'s settings, read once through one swift-configuration `ConfigReader` whose providers
/// answer in this order: the command line (`CairndOptions`), the environment (`CAIRN_*`), the
/// secret files (`--admin-token-file`, `--redis-url-file`), the defaults (`CairndSetting`), then
/// checked. Secrets (the Redis URL, admin tokens) are marked `isSecret` in every provider and
/// shown by `summary` only redacted.
public struct CairndSettings: Sendable {
    public var listen: HostPort
    /// nil: cairnd starts its own redis-server with its data under `dataDirectory`.
    public var redisURL: String?
    /// TLS to Redis (a `rediss://` URL): CA, client certificate, server name; empty otherwise.
    /// The files are read when the Redis configuration is made from it.
    public var redisTLS: RedisTLSOptions
    public var dataDirectory: String
    public var poolSize: Int
    public var adminTokens: [String]
    /// Where the admin tokens came from ("2 from /run/secrets/admin", "1 from CAIRN_ADMIN_TOKEN").
    public var adminTokenSources: [String]
    /// Where Prometheus metrics and the health checks are served; nil when off.
    public var metrics: HostPort?
    /// Where the MCP HTTP endpoint listens; nil when off.
    public var mcpListen: HostPort?
    public var logLevel: Logger.Level
    /// The protocol listener's settings, validated (auth, limits, TLS files readable).
    public var server: ServerConfiguration
    public var storeOptions: StoreOptions

    public var auth: ServerConfiguration.AuthMode { server.auth }
    public var tls: ServerTLSSettings? { server.tls }

    /// The most bytes of a secret file read: tokens and a URL are small, and a path to something
    /// endless (`/dev/zero`) must stop the start, not fill the memory.
    public static let maxSecretFileBytes = 1 << 20

    /// Reads and checks every setting. `commandLine` is what the flags gave (`CairndOptions.given`);
    /// `environment` is searched for `CAIRN_*` (an empty variable counts as unset); `readFile`
    /// reads at most the given number of bytes of a secret file (nil: it cannot be read). It
    /// reads files, TLS ones included: call it off the event loops and the cooperative pool.
    public init(
        commandLine: [CairndSetting: String] = [:],
        environment: [String: String] = ProcessInfo.processInfo.environment,
        readFile: (_ path: String, _ maxBytes: Int) -> [UInt8]? = CairndSettings.readPrefix,
        accessReporter: (any AccessReporter)? = nil
    ) throws(CairndSettingsError) {
        func secretFile(_ path: String, _ what: String) throws(CairndSettingsError) -> String {
            guard let bytes = readFile(path, Self.maxSecretFileBytes + 1) else { throw CairndSettingsError("cannot read the \(what) \(path)") }
            guard bytes.count <= Self.maxSecretFileBytes else {
                throw CairndSettingsError("the \(what) \(path) is larger than \(Self.maxSecretFileBytes) bytes")
            }
            guard let text = String(validating: bytes, as: UTF8.self) else { throw CairndSettingsError("the \(what) \(path) is not UTF-8 text") }
            return text
        }
        let secretFiles = MutableInMemoryProvider(name: "secret files", initialValues: [:])
        let reader = SettingsReader(
            reader: ConfigReader(
                providers: [
                    InMemoryProvider(
                        name: "command line",
                        values: Dictionary(
                            uniqueKeysWithValues: commandLine.map { setting, text in
                                (AbsoluteConfigKey(setting.key), ConfigValue(.string(text), isSecret: setting.isSecret))
                            })),
                    // Only the variables of the table: no other name can reach a key (such as
                    // that of the admin token file's tokens, which only the secret files hold).
                    EnvironmentVariablesProvider(
                        environmentVariables: environment.filter { CairndSetting.variables.contains($0.key) && !$0.value.isEmpty },
                        secretsSpecifier: .specific(Set(CairndSetting.all.filter(\.isSecret).map(\.environmentVariable)))),
                    secretFiles,
                    InMemoryProvider(
                        name: "defaults",
                        values: Dictionary(
                            uniqueKeysWithValues: CairndSetting.all.compactMap { setting in
                                setting.defaultValue.map { (AbsoluteConfigKey(setting.key), ConfigValue(.string($0), isSecret: setting.isSecret)) }
                            })),
                ],
                accessReporter: accessReporter),
            commandLine: commandLine)

        // The secret files are named by the flags or the environment (the layers above theirs;
        // no file or default names one), and fill their layer before anything else is read.
        var adminTokenSources: [String] = []
        if let file = reader.text(.adminTokenFile) {
            let tokens = try secretFile(file, "admin token file").split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            secretFiles.setValue(ConfigValue(.stringArray(tokens), isSecret: true), forKey: AbsoluteConfigKey(SettingsReader.adminTokensFromFile))
            adminTokenSources.append("\(tokens.count) from \(file)")
        }
        if let file = reader.text(.redisURLFile) {
            let url = try secretFile(file, "Redis URL file").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !url.isEmpty else { throw CairndSettingsError("the Redis URL file \(file) is empty") }
            secretFiles.setValue(ConfigValue(.string(url), isSecret: true), forKey: AbsoluteConfigKey(CairndSetting.redisURL.key))
        }

        listen = try reader.listenAddress(.listen, what: "listen address")
        redisURL = reader.text(.redisURL)
        redisTLS = try reader.redisTLS(url: redisURL)
        dataDirectory = reader.text(.dataDir) ?? ""
        poolSize = try reader.number(.redisPoolSize)
        let authText = reader.text(.auth) ?? ""
        guard let auth = ServerConfiguration.AuthMode(rawValue: authText) else {
            throw CairndSettingsError("auth must be 'required' or 'none', not \(authText.debugDescription)")
        }
        adminTokens = reader.reader.stringArray(forKey: SettingsReader.adminTokensFromFile, isSecret: true) ?? []
        if let token = reader.text(.adminToken) {
            adminTokens.append(token)
            adminTokenSources.append("1 from \(CairndSetting.adminToken.environmentVariable)")
        }
        self.adminTokenSources = adminTokenSources
        if adminTokens.contains(where: { $0.count < 16 }) {
            throw CairndSettingsError("admin tokens must be at least 16 characters long (use e.g. `openssl rand -hex 32`)")
        }
        metrics = try reader.listenAddressOrOff(.metricsListen, what: "metrics address")
        storeOptions = StoreOptions(
            keyPrefix: reader.text(.keyPrefix) ?? "",
            historyLimit: try reader.number(.historyLimit),
            streamLength: try reader.number(.streamLength),
            maxValueBytes: try reader.number(.maxValueBytes),
            requestIDRetentionMs: try reader.number(.requestIdRetentionMs))
        if storeOptions.keyPrefix.isEmpty || storeOptions.keyPrefix.contains("{") || storeOptions.keyPrefix.contains("}") {
            throw CairndSettingsError("the key prefix must be non-empty and hold no braces")
        }
        let levelText = reader.text(.logLevel) ?? ""
        guard let level = Logger.Level(rawValue: levelText) else {
            throw CairndSettingsError(
                "the log level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), not \(levelText.debugDescription)")
        }
        logLevel = level
        mcpListen = try reader.listenAddressOrOff(.mcpListen, what: "MCP listen address")

        var server = ServerConfiguration(
            host: listen.host, port: listen.port, auth: auth, adminTokenHashes: Set(adminTokens.map(TokenStore.hash)),
            maxLineBytes: try reader.number(.maxLineBytes), maxConnections: try reader.number(.maxConnections),
            maxPendingOutputBytes: try reader.number(.maxPendingOutputBytes),
            maxSubscriptionsPerConnection: try reader.number(.maxSubscriptions),
            maxBufferedEvents: try reader.number(.maxBufferedEvents), authTimeoutMilliseconds: try reader.number(.authTimeoutMs))
        server.maxEventBufferBytes = try reader.number(.maxEventBufferBytes)
        server.tls = try reader.tls()
        if server.tls != nil, mcpListen != nil {
            // The MCP endpoint is plain HTTP and reaches this listener as a plain client.
            throw CairndSettingsError(
                "--mcp-listen does not work with TLS yet (its HTTP endpoint is not TLS); run `cairn mcp --listen` against the cairns:// URL instead, or drop --mcp-listen"
            )
        }
        do {
            try server.validate()
        } catch {
            throw CairndSettingsError(error.message)
        }
        self.server = server
    }

    /// What the Redis TLS options say, for the start-up line.
    static func describe(_ tls: RedisTLSOptions) -> String {
        var parts = ["CA \(tls.caFile ?? "system")"]
        if let certificate = tls.certificateFile { parts.append("cert \(certificate)") }
        if let name = tls.serverName { parts.append("server name \(name)") }
        return parts.joined(separator: ", ")
    }

    /// The first `maxBytes` bytes of the file at `path`; nil when it cannot be opened or read.
    public static func readPrefix(_ path: String, _ maxBytes: Int) -> [UInt8]? {
        guard let file = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? file.close() }
        do {
            // nil at the end of the file: an empty file.
            return Array(try file.read(upToCount: maxBytes) ?? Data())
        } catch {
            return nil
        }
    }

    /// One line for the log: every setting, no secret (the Redis URL without its password, the
    /// admin tokens as counts and where they came from).
    public var summary: String {
        [
            "listen=\(listen)",
            "redis=\(redisURL.map(Redaction.url) ?? "embedded (data in \(dataDirectory))")",
            "redis_tls=\(redisURL?.hasPrefix("rediss://") == true ? Self.describe(redisTLS) : "off")",
            "pool=\(poolSize)", "auth=\(auth.rawValue)",
            "admin_tokens=\(adminTokenSources.isEmpty ? "none" : adminTokenSources.joined(separator: ", "))",
            "metrics=\(metrics?.description ?? "off")", "max_line_bytes=\(server.maxLineBytes)",
            "max_value_bytes=\(storeOptions.maxValueBytes)", "max_connections=\(server.maxConnections)",
            "auth_timeout_ms=\(server.authTimeoutMilliseconds)", "max_subscriptions=\(server.maxSubscriptionsPerConnection)",
            "max_buffered_events=\(server.maxBufferedEvents)", "max_event_buffer_bytes=\(server.maxEventBufferBytes)",
            "max_pending_output_bytes=\(server.maxPendingOutputBytes)",
            "history_limit=\(storeOptions.historyLimit)", "stream_length=\(storeOptions.streamLength)",
            "key_prefix=\(storeOptions.keyPrefix)", "request_id_retention_ms=\(storeOptions.requestIDRetentionMs)",
            "log_level=\(logLevel.rawValue)", "mcp=\(mcpListen?.description ?? "off")",
            "tls=\(tls.map { "cert \($0.certificateFile)" + ($0.clientCAFile.map { ", client CA \($0)" } ?? "") } ?? "off")",
        ].joined(separator: " ")
    }
}
