import Cairn
import CairnConfig
import CairnCore
import CairnServer
import Configuration
import Foundation
import Synchronization
import Testing

/// cairnd's settings without a process or Redis: which source wins, what a bad value says, what
/// the start-up line shows.
@Suite struct CairndSettingsTests {
    /// Settings from `flags` (as `cairnd` would parse them), `environment` and the files in `files`
    /// (path → contents; any other path cannot be read).
    static func settings(
        _ flags: [String] = [], environment: [String: String] = [:], files: [String: String] = [:], reporter: (any AccessReporter)? = nil
    ) throws -> CairndSettings {
        let options = try CairndOptions.parse(flags)
        return try CairndSettings(
            commandLine: options.given, environment: environment, readFile: { path, _ in files[path].map { Array($0.utf8) } },
            accessReporter: reporter)
    }

    /// The message a bad setting is refused with; nil if it is accepted.
    static func refusal(_ flags: [String] = [], environment: [String: String] = [:], files: [String: String] = [:]) throws -> String? {
        let options = try CairndOptions.parse(flags)
        do {
            _ = try CairndSettings(
                commandLine: options.given, environment: environment, readFile: { path, _ in files[path].map { Array($0.utf8) } })
            return nil
        } catch {
            return error.message
        }
    }

    static let token = "cairn_admin_0123456789abcdef"

    @Test func defaultsAreTheTablesAndTheLibrariesOwn() throws {
        let settings = try Self.settings()
        #expect(settings.listen == HostPort(host: "127.0.0.1", port: 7420))
        #expect(settings.metrics == HostPort(host: "127.0.0.1", port: 9420))
        #expect(settings.redisURL == nil)
        #expect(settings.dataDirectory == ".cairn/data")
        #expect(settings.poolSize == 16)
        #expect(settings.auth == .required)
        #expect(settings.adminTokens.isEmpty)
        #expect(settings.mcpListen == nil)
        #expect(settings.tls == nil)
        #expect(settings.logLevel == .info)
        // What cairnd serves with by default is what the server and the store default to.
        let server = ServerConfiguration()
        #expect(settings.server.maxLineBytes == server.maxLineBytes)
        #expect(settings.server.maxConnections == server.maxConnections)
        #expect(settings.server.maxPendingOutputBytes == server.maxPendingOutputBytes)
        #expect(settings.server.maxEventBufferBytes == server.maxEventBufferBytes)
        #expect(settings.server.maxBufferedEvents == server.maxBufferedEvents)
        #expect(settings.server.maxSubscriptionsPerConnection == server.maxSubscriptionsPerConnection)
        #expect(settings.server.authTimeoutMilliseconds == server.authTimeoutMilliseconds)
        #expect(settings.storeOptions == StoreOptions())
    }

    @Test func aFlagWinsOverTheEnvironmentWhichWinsOverTheDefault() throws {
        let environment = ["CAIRN_LISTEN": "127.0.0.1:1111", "CAIRN_MAX_LINE_BYTES": "2048", "CAIRN_KEY_PREFIX": "from-env"]
        let both = try Self.settings(["--listen", "127.0.0.1:2222", "--max-line-bytes", "4096", "--key-prefix", "from-flag"], environment: environment)
        #expect(both.listen.port == 2222)
        #expect(both.server.maxLineBytes == 4096)
        #expect(both.storeOptions.keyPrefix == "from-flag")
        let envOnly = try Self.settings(environment: environment)
        #expect(envOnly.listen.port == 1111)
        #expect(envOnly.server.maxLineBytes == 2048)
        #expect(envOnly.storeOptions.keyPrefix == "from-env")
        let neither = try Self.settings()
        #expect(neither.listen.port == 7420)
        #expect(neither.storeOptions.keyPrefix == "cairn")
    }

    @Test func onlyTheTablesVariablesAreRead() throws {
        // The admin token file's tokens have a key of their own in the secret-file layer; no
        // environment variable may stand in for it.
        let settings = try Self.settings(environment: ["CAIRN_ADMIN_TOKEN_FILE_TOKENS": Self.token])
        #expect(settings.adminTokens.isEmpty)
        let withFile = try Self.settings(
            ["--admin-token-file", "/t"], environment: ["CAIRN_ADMIN_TOKEN_FILE_TOKENS": "cairn_admin_not_from_the_file"],
            files: ["/t": Self.token])
        #expect(withFile.adminTokens == [Self.token])
    }

    @Test func anEmptyEnvironmentVariableCountsAsUnset() throws {
        let settings = try Self.settings(environment: ["CAIRN_LISTEN": "", "CAIRN_REDIS_URL": "", "CAIRN_ADMIN_TOKEN": ""])
        #expect(settings.listen.port == 7420)
        #expect(settings.redisURL == nil)
        #expect(settings.adminTokens.isEmpty)
    }

    @Test func theRedisURLComesFromTheFlagThenTheEnvironmentThenItsSecretFile() throws {
        let files = ["/run/secrets/redis": "redis://:from-file@db:6379/0\n"]
        let environment = ["CAIRN_REDIS_URL_FILE": "/run/secrets/redis", "CAIRN_REDIS_URL": "redis://env:6379"]
        #expect(try Self.settings(["--redis-url", "redis://flag:6379"], environment: environment, files: files).redisURL == "redis://flag:6379")
        #expect(try Self.settings(environment: environment, files: files).redisURL == "redis://env:6379")
        #expect(try Self.settings(environment: ["CAIRN_REDIS_URL_FILE": "/run/secrets/redis"], files: files).redisURL == "redis://:from-file@db:6379/0")
        #expect(try Self.settings(["--redis-url-file", "/run/secrets/redis"], files: files).redisURL == "redis://:from-file@db:6379/0")
        #expect(try Self.settings().redisURL == nil)
        #expect(try Self.refusal(["--redis-url-file", "/nope"]) == "cannot read the Redis URL file /nope")
        #expect(try Self.refusal(["--redis-url-file", "/empty"], files: ["/empty": " \n"]) == "the Redis URL file /empty is empty")
    }

    @Test func adminTokensComeFromTheirFileAndTheEnvironmentTogether() throws {
        let other = "cairn_admin_fedcba9876543210"
        let files = ["/t": "# admins\n\(Self.token)\n\n  \(other)  \n"]
        let settings = try Self.settings(["--admin-token-file", "/t"], environment: ["CAIRN_ADMIN_TOKEN": "cairn_admin_from_environment"], files: files)
        #expect(settings.adminTokens == [Self.token, other, "cairn_admin_from_environment"])
        #expect(settings.adminTokenSources == ["2 from /t", "1 from CAIRN_ADMIN_TOKEN"])
        #expect(settings.server.adminTokenHashes == Set(settings.adminTokens.map(TokenStore.hash)))
        let fromEnvironment = try Self.settings(environment: ["CAIRN_ADMIN_TOKEN_FILE": "/t"], files: files)
        #expect(fromEnvironment.adminTokens == [Self.token, other])
        #expect(try Self.refusal(["--admin-token-file", "/missing"]) == "cannot read the admin token file /missing")
        #expect(
            try Self.refusal(environment: ["CAIRN_ADMIN_TOKEN": "short"])
                == "admin tokens must be at least 16 characters long (use e.g. `openssl rand -hex 32`)")
        #expect(
            try Self.refusal(["--admin-token-file", "/t"], files: ["/t": "tooshort\n"])
                == "admin tokens must be at least 16 characters long (use e.g. `openssl rand -hex 32`)")
    }

    @Test func secretFilesAreReadUpToABound() throws {
        // The real reader: an endless file stops at the bound, a missing one is nil.
        #expect(CairndSettings.readPrefix("/dev/zero", 10)?.count == 10)
        #expect(CairndSettings.readPrefix("/nonexistent/secret", 10) == nil)
        #expect(CairndSettings.readPrefix("/dev/null", 10) == [])
        let limit = CairndSettings.maxSecretFileBytes
        var asked: [Int] = []
        func refusal(_ contents: [UInt8]) -> String? {
            do {
                _ = try CairndSettings(
                    commandLine: [.adminTokenFile: "/t"], environment: [:],
                    readFile: { _, maxBytes in
                        asked.append(maxBytes)
                        return Array(contents.prefix(maxBytes))
                    })
                return nil
            } catch {
                return error.message
            }
        }
        #expect(refusal(Array(repeating: UInt8(ascii: "a"), count: limit + 5)) == "the admin token file /t is larger than \(limit) bytes")
        #expect(asked == [limit + 1], "no more than one byte past the bound is asked for")
        #expect(refusal(Array(Self.token.utf8) + [0xFF]) == "the admin token file /t is not UTF-8 text")
        #expect(refusal(Array(Self.token.utf8)) == nil)
    }

    @Test func everyBadValueIsRefusedWithItsMessage() throws {
        let cases: [([String], [String: String], String)] = [
            (["--listen", "localhost"], [:], #"listen address must be host:port (got "localhost")"#),
            ([], ["CAIRN_LISTEN": "h:x"], #"listen address has a bad port: "h:x""#),
            (["--metrics-listen", "9420"], [:], #"metrics address must be host:port (got "9420")"#),
            ([], ["CAIRN_METRICS_LISTEN": "h:70000"], #"metrics address has a bad port: "h:70000""#),
            (["--mcp-listen", "h:-1"], [:], #"MCP listen address has a bad port: "h:-1""#),
            (["--auth", "maybe"], [:], #"auth must be 'required' or 'none', not "maybe""#),
            ([], ["CAIRN_MAX_LINE_BYTES": "lots"], "CAIRN_MAX_LINE_BYTES=lots is not a number"),
            (["--max-line-bytes", "5"], [:], "CAIRN_MAX_LINE_BYTES must be at least 1024 (got 5)"),
            ([], ["CAIRN_REDIS_POOL_SIZE": "0"], "CAIRN_REDIS_POOL_SIZE must be at least 1 (got 0)"),
            (["--max-buffered-events", "9"], [:], "CAIRN_MAX_BUFFERED_EVENTS must be at least 10 (got 9)"),
            (["--max-event-buffer-bytes", "1"], [:], "CAIRN_MAX_EVENT_BUFFER_BYTES must be at least 65536 (got 1)"),
            (["--max-pending-output-bytes", "1"], [:], "CAIRN_MAX_PENDING_OUTPUT_BYTES must be at least 65536 (got 1)"),
            (["--max-value-bytes", "15"], [:], "CAIRN_MAX_VALUE_BYTES must be at least 16 (got 15)"),
            (["--request-id-retention-ms", "999"], [:], "CAIRN_REQUEST_ID_RETENTION_MS must be at least 1000 (got 999)"),
            ([], ["CAIRN_AUTH_TIMEOUT_MS": "0"], "CAIRN_AUTH_TIMEOUT_MS must be at least 1 (got 0)"),
            (["--key-prefix", "a{b}"], [:], "the key prefix must be non-empty and hold no braces"),
            (["--log-level", "loud"], [:], #"the log level must be one of trace, debug, info, notice, warning, error, critical, not "loud""#),
            (["--tls-cert", "/c.pem"], [:], "TLS needs both --tls-cert and --tls-key (CAIRN_TLS_CERT, CAIRN_TLS_KEY)"),
            ([], ["CAIRN_TLS_KEY": "/k.pem"], "TLS needs both --tls-cert and --tls-key (CAIRN_TLS_CERT, CAIRN_TLS_KEY)"),
            (["--tls-client-ca", "/ca.pem"], [:], "--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS)"),
            (
                ["--tls-cert", "/c.pem", "--tls-key", "/k.pem", "--mcp-listen", "127.0.0.1:0"], [:],
                "--mcp-listen does not work with TLS yet (its HTTP endpoint is not TLS); run `cairn mcp --listen` against the cairns:// URL instead, or drop --mcp-listen"
            ),
            (
                ["--auth", "none", "--listen", ":7420"], [:],
                "auth none lets anyone do anything: it is only allowed on a loopback address (127.0.0.1, ::1, localhost), not 0.0.0.0"
            ),
        ]
        for (flags, environment, message) in cases {
            #expect(try Self.refusal(flags, environment: environment) == message, "\(flags) \(environment)")
        }
        // Unreadable TLS files are named (ServerConfiguration.validate loads them).
        let unreadable = try #require(try Self.refusal(["--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent-key.pem"]))
        #expect(unreadable.contains("/nonexistent.pem"), "\(unreadable)")
    }

    @Test func goodValuesOfEveryKind() throws {
        let settings = try Self.settings(
            ["--listen", "[::1]:0", "--auth", "none", "--metrics-listen", "off", "--mcp-listen", ":7421", "--log-level", "debug"],
            environment: ["CAIRN_HISTORY_LIMIT": "5", "CAIRN_STREAM_LENGTH": "50", "CAIRN_DATA_DIR": "/var/lib/cairn"])
        #expect(settings.listen == HostPort(host: "::1", port: 0))
        #expect(settings.auth == .none)
        #expect(settings.metrics == nil)
        #expect(settings.mcpListen == HostPort(host: "0.0.0.0", port: 7421))
        #expect(settings.logLevel == .debug)
        #expect(settings.storeOptions.historyLimit == 5)
        #expect(settings.storeOptions.streamLength == 50)
        #expect(settings.dataDirectory == "/var/lib/cairn")
    }

    @Test func theStartUpLineShowsNoSecret() throws {
        let password = "pa55-w0rd-never-shown"
        let settings = try Self.settings(
            ["--redis-url", "redis://:\(password)@db.internal:6379/2", "--admin-token-file", "/t"],
            environment: ["CAIRN_ADMIN_TOKEN": "cairn_admin_from_environment"], files: ["/t": Self.token])
        let line = settings.summary
        #expect(line.contains("redis=redis://:***@db.internal:6379/2"), "\(line)")
        #expect(line.contains("admin_tokens=1 from /t, 1 from CAIRN_ADMIN_TOKEN"), "\(line)")
        for secret in [password, Self.token, "cairn_admin_from_environment"] {
            #expect(!line.contains(secret), "\(line)")
        }
        #expect(line.contains("listen=127.0.0.1:7420 "), "\(line)")
        let fromFile = try Self.settings(["--redis-url-file", "/r"], files: ["/r": "redis://cairn:\(password)@db:6379"])
        #expect(fromFile.summary.contains("redis=redis://cairn:***@db:6379"), "\(fromFile.summary)")
        #expect(!fromFile.summary.contains(password))
        #expect(try Self.settings().summary.contains("redis=embedded (data in .cairn/data)"))
    }

    @Test func secretsAreMarkedSecretInEveryProvider() throws {
        let reporter = CollectingReporter()
        let password = "pa55-w0rd-never-shown"
        for (flags, environment) in [
            (["--redis-url", "redis://:\(password)@db"], ["CAIRN_ADMIN_TOKEN": Self.token]),
            ([], ["CAIRN_REDIS_URL": "redis://:\(password)@db", "CAIRN_ADMIN_TOKEN": Self.token]),
            (["--redis-url-file", "/r", "--admin-token-file", "/t"], [:]),
        ] {
            reporter.events.withLock { $0.removeAll() }
            _ = try Self.settings(flags, environment: environment, files: ["/r": "redis://:\(password)@db", "/t": Self.token], reporter: reporter)
            let answered = reporter.events.withLock { events in
                events.compactMap { event -> (String, ConfigValue)? in
                    guard case .success(let value?) = event.result else { return nil }
                    return (event.metadata.key.components.joined(separator: "."), value)
                }
            }
            let secrets = answered.filter { $0.1.description.contains(password) || $0.1.description.contains(Self.token) }
            #expect(secrets.isEmpty, "shown: \(secrets)")
            let redis = try #require(answered.first { $0.0 == "cairn.redis.url" })
            #expect(redis.1.isSecret)
            #expect(answered.filter { $0.0.hasPrefix("cairn.admin.token") && $0.0 != "cairn.admin.token.file" }.allSatisfy { $0.1.isSecret })
            #expect(try #require(answered.first { $0.0 == "cairn.listen" }).1.isSecret == false)
        }
    }

    /// Every setting with a flag is one of `CairndOptions`, under its name, and says its
    /// environment variable and default in its help.
    @Test func theFlagsAreTheTable() throws {
        for setting in CairndSetting.all {
            #expect(setting.help.contains("Env \(setting.environmentVariable)."), "\(setting)")
            if let value = setting.defaultValue { #expect(setting.help.contains("Default \(value)"), "\(setting)") }
            guard setting.hasFlag else {
                #expect(throws: (any Error).self) { try CairndOptions.parse([setting.flag, "x"]) }
                continue
            }
            let value = if case .number = setting.kind { "123456" } else { "some-value" }
            let options = try CairndOptions.parse([setting.flag, value])
            #expect(options.given == [setting: value], "\(setting)")
        }
        #expect(CairndSetting.maxLineBytes.environmentVariable == "CAIRN_MAX_LINE_BYTES")
        #expect(CairndSetting.tlsClientCA.flag == "--tls-client-ca")
        #expect(CairndSetting.requestIdRetentionMs.help.contains("Default 86400000 (24 h)."))
    }

    /// README's configuration table says what the table says: every flag, its variable, its default.
    @Test func theReadmeTableAgreesWithTheTable() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let rows = readme.split(separator: "\n").filter { $0.hasPrefix("| `--") }
        var described: Set<String> = []
        for row in rows {
            let cells = row.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let flags = cells[1].split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " `")) }
            let variables = cells[2].split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " `")) }
            for (flag, variable) in zip(flags, variables) {
                let setting = try #require(CairndSetting.all.first { $0.flag == flag }, "README names \(flag), which cairnd does not have")
                #expect(setting.environmentVariable == variable, "\(row)")
                let shown = cells[3].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
                if let value = setting.defaultValue {
                    #expect(shown == value, "README's default for \(flag) is \(shown), cairnd's is \(value)")
                }
                described.insert(setting.name)
            }
        }
        let missing = CairndSetting.all.filter { $0.hasFlag && !described.contains($0.name) }.map(\.flag)
        #expect(missing.isEmpty, "README's configuration table lacks \(missing)")
    }
}

/// Every access event the reader reports.
final class CollectingReporter: AccessReporter {
    let events = Mutex<[AccessEvent]>([])

    func report(_ event: AccessEvent) {
        events.withLock { $0.append(event) }
    }
}
