import CairnClient
import Cairn
import CairnTestSupport
import Foundation
import Testing

/// `cairnd --redis-url rediss://…` itself: it serves over a TLS Redis, and TLS settings that
/// cannot work stop its start with the file or flag that is wrong.
@Suite struct RedisTLSBinaryTests {
    @Test func cairndServesOverARedissURL() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        try await TestRedis.withPrivateTLSServer(
            certificate: certificates.serverCertificate, key: certificates.serverKey, clientCA: certificates.caCertificate,
            requireClientCertificates: true
        ) { redis in
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("cairnd-redis-tls-\(UUID().uuidString).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            defer { try? FileManager.default.removeItem(at: log) }
            let output = try FileHandle(forWritingTo: log)
            defer { try? output.close() }
            let process = Process()
            process.executableURL = BinaryTests.cairnd
            // The CA by flag, the client certificate by the environment.
            process.arguments = [
                "--listen", "127.0.0.1:0", "--redis-url", redis.url, "--redis-tls-ca", certificates.caCertificate, "--auth", "none",
                "--metrics-listen", "off",
            ]
            process.environment = CLI.environment(
                token: nil, ["CAIRN_REDIS_TLS_CERT": certificates.clientCertificate, "CAIRN_REDIS_TLS_KEY": certificates.clientKey])
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
            #expect(logText().contains("redis=\(redis.url)"), "\(logText())")
            #expect(logText().contains("redis_tls=CA \(certificates.caCertificate), cert \(certificates.clientCertificate)"), "\(logText())")
            #expect(!logText().contains("does not answer yet"), "\(logText())")

            let client = try await CairnClient.connect(host: "127.0.0.1", port: listening)
            let ns = try Namespace(tenant: uniqueTenant(), task: "t")
            #expect(try await client.put(ns, key: "k", value: "over rediss").version == 1)
            #expect(try await client.get(ns, key: "k")?.value == "over rediss")
            await client.close()
            process.terminate()
            await eventually(30) { !process.isRunning }
        }
    }

    @Test func redisTLSSettingsThatCannotWorkAreRefusedAtStart() async throws {
        let cairnd = try #require(BinaryTests.cairnd)
        let plain = try await BinaryTests.run(cairnd, ["--redis-url", TestRedis.url, "--redis-tls-ca", "/ca.pem"])
        #expect(plain.status != 0, "\(plain)")
        #expect(plain.stderr.contains("Redis TLS settings (--redis-tls-ca) are for TLS, but the Redis URL is not rediss://"), "\(plain)")
        let embedded = try await BinaryTests.run(cairnd, ["--redis-tls-ca", "/ca.pem"])
        #expect(embedded.status != 0, "\(embedded)")
        #expect(embedded.stderr.contains("need a rediss:// Redis URL"), "\(embedded)")
        let unreadable = try await BinaryTests.run(
            cairnd, ["--redis-url", "rediss://127.0.0.1:1", "--redis-tls-ca", "/nonexistent-ca.pem", "--metrics-listen", "off"])
        #expect(unreadable.status != 0, "\(unreadable)")
        #expect(unreadable.stderr.contains("Redis CA file (--redis-tls-ca) /nonexistent-ca.pem"), "\(unreadable)")
        #expect(!unreadable.stderr.contains("cairnd listening"), "\(unreadable)")
    }
}
