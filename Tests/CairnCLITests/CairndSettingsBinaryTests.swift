import CairnTestSupport
import Foundation
import Testing

/// The `cairnd` executable reads its settings through `CairndSettings`: a bad one stops it at
/// start with its message and exit status 64, `--help` shows the defaults, and the start-up line
/// shows no secret.
@Suite struct CairndSettingsBinaryTests {
    @Test func aBadSettingStopsTheStartWithItsMessageAndStatus64() async throws {
        let cairnd = try #require(BinaryTests.cairnd)
        let cases: [([String], [String: String], String)] = [
            (["--max-line-bytes", "5"], [:], "CAIRN_MAX_LINE_BYTES must be at least 1024 (got 5)"),
            ([], ["CAIRN_MAX_CONNECTIONS": "many"], "CAIRN_MAX_CONNECTIONS=many is not a number"),
            ([], ["CAIRN_LISTEN": "nohost"], #"listen address must be host:port (got "nohost")"#),
            (["--metrics-listen", "h:x"], [:], #"metrics address has a bad port: "h:x""#),
            (["--auth", "maybe"], [:], #"auth must be 'required' or 'none', not "maybe""#),
            ([], ["CAIRN_ADMIN_TOKEN": "short"], "admin tokens must be at least 16 characters long"),
            (["--admin-token-file", "/nonexistent/admin-token"], [:], "cannot read the admin token file /nonexistent/admin-token"),
            (["--redis-url-file", "/nonexistent/redis-url"], [:], "cannot read the Redis URL file /nonexistent/redis-url"),
        ]
        for (arguments, environment, message) in cases {
            let result = try await BinaryTests.run(cairnd, arguments + ["--redis-url", TestRedis.url], environment: environment)
            #expect(result.status == 64, "\(arguments) \(environment): \(result)")
            #expect(result.stderr.contains(message), "\(arguments) \(environment): \(result)")
            #expect(!result.stderr.contains("cairnd starting"), "\(result)")
        }
        // ArgumentParser's own usage errors keep their status too.
        let notANumber = try await BinaryTests.run(cairnd, ["--max-line-bytes", "lots"])
        #expect(notANumber.status == 64, "\(notANumber)")
        let unknown = try await BinaryTests.run(cairnd, ["--admin-token", "x"])
        #expect(unknown.status == 64, "a token is never a flag: \(unknown)")
    }

    @Test func helpShowsEachSettingsVariableAndDefault() async throws {
        let result = try await BinaryTests.run(try #require(BinaryTests.cairnd), ["--help"])
        #expect(result.status == 0, "\(result)")
        // ArgumentParser wraps the help at the terminal's width: compare without line breaks.
        let help = result.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(help.contains("Env CAIRN_LISTEN. Default 127.0.0.1:7420."), "\(help)")
        #expect(help.contains("Env CAIRN_METRICS_LISTEN. Default 127.0.0.1:9420."), "\(help)")
        #expect(help.contains("Env CAIRN_REQUEST_ID_RETENTION_MS. Default 86400000 (24 h)."), "\(help)")
        #expect(help.contains("--redis-url-file"), "\(help)")
    }

    @Test func theStartUpLineShowsTheRedisURLWithoutItsPasswordAndNoToken() async throws {
        let password = "pa55-w0rd-\(UUID().uuidString.prefix(8))"
        let token = "cairn_admin_\(UUID().uuidString)"
        let withPassword = try #require(
            TestRedis.url.hasPrefix("redis://") ? "redis://:\(password)@" + TestRedis.url.dropFirst("redis://".count) : nil)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("cairnd-settings-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        // swift-configuration's access log: one line per setting read, and which provider gave it.
        let accessLog = FileManager.default.temporaryDirectory.appendingPathComponent("cairnd-access-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: accessLog) }
        let output = try FileHandle(forWritingTo: log)
        defer { try? output.close() }
        let process = Process()
        process.executableURL = BinaryTests.cairnd
        process.arguments = ["--listen", "127.0.0.1:0", "--metrics-listen", "off", "--key-prefix", "settings-\(UUID().uuidString.prefix(8))"]
        // The password comes from the environment here: a flag would show in `ps` anyway.
        process.environment = CLI.environment(
            token: nil, ["CAIRN_REDIS_URL": withPassword, "CAIRN_ADMIN_TOKEN": token, "CONFIG_ACCESS_LOG_FILE": accessLog.path])
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        defer {
            if process.isRunning { process.terminate() }
        }
        func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        await eventually(30) { logText().contains("cairnd starting:") }
        process.terminate()
        await eventually(30) { !process.isRunning }
        let text = logText()
        let line = try #require(text.split(separator: "\n").first { $0.contains("cairnd starting:") }, "\(text)")
        #expect(line.contains("redis=redis://:***@"), "\(line)")
        #expect(line.contains("admin_tokens=1 from CAIRN_ADMIN_TOKEN"), "\(line)")
        #expect(!text.contains(password), "the Redis password shows in cairnd's output:\n\(text)")
        #expect(!text.contains(token), "an admin token shows in cairnd's output:\n\(text)")
        let access = (try? String(contentsOf: accessLog, encoding: .utf8)) ?? ""
        #expect(access.contains(#"cairn.listen -> "127.0.0.1:0" - provided by InMemoryProvider[command line]"#), "\(access)")
        #expect(access.contains(#"cairn.redis.url -> "<REDACTED>" - provided by EnvironmentVariablesProvider"#), "\(access)")
        #expect(access.contains(#"cairn.data.dir -> ".cairn/data" - provided by InMemoryProvider[defaults]"#), "\(access)")
        #expect(!access.contains(password) && !access.contains(token), "a secret shows in the access log:\n\(access)")
    }
}
