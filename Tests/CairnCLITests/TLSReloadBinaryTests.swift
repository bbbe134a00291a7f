import CairnClient
import CairnServer
import CairnTestSupport
import Foundation
import Testing

/// `cairnd` itself reads its certificate again on `SIGHUP`.
@Suite struct TLSReloadBinaryTests {
    @Test func sighupServesTheNewCertificateToNewConnectionsWhileOldOnesKeepWorking() async throws {
        let first = try await TestCertificates(name: "first")
        let second = try await TestCertificates(name: "second")
        defer {
            first.remove()
            second.remove()
        }
        let certificate = "\(first.folder)/served.pem", key = "\(first.folder)/served-key.pem"
        try first.installServerCertificate(at: certificate, key: key)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("cairnd-tls-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let output = try FileHandle(forWritingTo: log)
        defer { try? output.close() }
        let process = Process()
        process.executableURL = BinaryTests.cairnd
        process.arguments = [
            "--listen", "127.0.0.1:0", "--redis-url", TestRedis.url, "--auth", "none", "--metrics-listen", "off",
            "--key-prefix", "tls-reload-\(UUID().uuidString.prefix(8))", "--tls-cert", certificate, "--tls-key", key,
        ]
        process.environment = CLI.environment(token: nil, [:])
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        defer {
            if process.isRunning { process.terminate() }
        }
        func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        var port: Int?
        await eventually(30) {
            let text = logText()
            guard let range = text.range(of: "listening on 127.0.0.1:") else { return false }
            port = Int(text[range.upperBound...].prefix { $0.isNumber })
            return port != nil
        }
        let listening = try #require(port, "cairnd did not say where it listens:\n\(logText())")

        let old = try await CairnClient.connect(host: "127.0.0.1", port: listening, tls: ClientTLSOptions(caFile: first.caCertificate))
        try second.installServerCertificate(at: certificate, key: key)
        kill(process.processIdentifier, SIGHUP)
        await eventually(30) { logText().contains("SIGHUP: TLS certificate and key read again") }
        #expect(process.isRunning, "SIGHUP must not end cairnd:\n\(logText())")

        let fresh = try await CairnClient.connect(host: "127.0.0.1", port: listening, tls: ClientTLSOptions(caFile: second.caCertificate))
        #expect(try await fresh.ping())
        await fresh.close()
        #expect(try await old.ping())
        await old.close()
        process.terminate()
        await eventually(30) { !process.isRunning }
    }

    @Test func tlsSettingsThatCannotWorkAreRefusedAtStart() async throws {
        let cairnd = try #require(BinaryTests.cairnd)
        let half = try await BinaryTests.run(cairnd, ["--tls-cert", "/nonexistent.pem", "--redis-url", TestRedis.url])
        #expect(half.status != 0, "\(half)")
        #expect(half.stderr.contains("TLS needs both --tls-cert and --tls-key"), "\(half)")
        let unreadable = try await BinaryTests.run(
            cairnd, ["--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent-key.pem", "--redis-url", TestRedis.url])
        #expect(unreadable.status != 0, "\(unreadable)")
        #expect(unreadable.stderr.contains("/nonexistent.pem"), "\(unreadable)")
        let mcp = try await BinaryTests.run(
            cairnd, ["--tls-cert", "/c.pem", "--tls-key", "/k.pem", "--mcp-listen", "127.0.0.1:0", "--redis-url", TestRedis.url])
        #expect(mcp.status != 0, "\(mcp)")
        #expect(mcp.stderr.contains("--mcp-listen does not work with TLS yet"), "\(mcp)")
    }
}
