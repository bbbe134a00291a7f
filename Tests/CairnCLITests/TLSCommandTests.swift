import Cairn
import CairnServer
import CairnTestSupport
import Foundation
import Testing

/// The CLI over `cairns://`, against an in-process TLS cairnd with certificates made at test time.
@Suite struct TLSCommandTests {
    @Test func cliConnectsOverTLSWithTheCAFromAFlagOrTheEnvironment() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        let server = try await TestServer {
            $0.tls = ServerTLSSettings(certificateFile: certificates.serverCertificate, keyFile: certificates.serverKey)
        }
        let url = "cairns://127.0.0.1:\(server.port)"
        let flag = try await CLI.run(["ping", "--url", url, "--tls-ca", certificates.caCertificate])
        #expect(flag.status == 0, "\(flag)")
        let env = try await CLI.run(["ping"], environment: ["CAIRN_URL": "cairns://localhost:\(server.port)", "CAIRN_TLS_CA": certificates.caCertificate])
        #expect(env.status == 0, "\(env)")
        // Without the CA: refused, named, exit 5 (connection failed).
        let unknown = try await CLI.run(["ping", "--url", url])
        #expect(unknown.status == 5, "\(unknown)")
        #expect(unknown.stderr.contains("unknown CA"), "\(unknown)")
        // Plaintext against the TLS listener: told to use cairns://.
        let plain = try await CLI.run(["ping", "--url", "cairn://127.0.0.1:\(server.port)"])
        #expect(plain.status == 5, "\(plain)")
        #expect(plain.stderr.contains("cairns://"), "\(plain)")
        await server.stop()
    }

    @Test func cliShowsAClientCertificateForMutualTLS() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        let server = try await TestServer {
            $0.tls = ServerTLSSettings(
                certificateFile: certificates.serverCertificate, keyFile: certificates.serverKey, clientCAFile: certificates.caCertificate)
        }
        let url = "cairns://127.0.0.1:\(server.port)"
        let with = try await CLI.run(
            ["ping", "--url", url, "--tls-ca", certificates.caCertificate, "--tls-cert", certificates.clientCertificate,
             "--tls-key", certificates.clientKey])
        #expect(with.status == 0, "\(with)")
        let without = try await CLI.run(["ping", "--url", url, "--tls-ca", certificates.caCertificate])
        #expect(without.status == 5, "\(without)")
        let half = try await CLI.run(["ping", "--url", url, "--tls-cert", certificates.clientCertificate])
        #expect(half.status == 64, "\(half)")
        await server.stop()
    }

    @Test func healthOverHTTPSOnTheSameCertificate() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        let tls = try ServerTLS(settings: ServerTLSSettings(certificateFile: certificates.serverCertificate, keyFile: certificates.serverKey))
        let metrics = try await MetricsServer.bind(
            host: "127.0.0.1", port: 0, metrics: ServerMetrics(), readiness: { Readiness(problems: []) }, tls: tls)
        defer { metrics.close() }
        let url = "https://127.0.0.1:\(metrics.port)"
        // A generous --timeout: the subject is TLS, and a busy machine may take seconds to schedule
        // the readiness check (the deadline has a test of its own).
        let ready = try await CLI.run(["health", "--metrics-url", url, "--tls-ca", certificates.caCertificate, "--timeout", "60"])
        #expect(ready.status == 0, "\(ready)")
        #expect(ready.stdout == "ready (\(url)/health/ready)\n")
        let plain = try await CLI.run(["health", "--metrics-url", "http://127.0.0.1:\(metrics.port)", "--timeout", "2"])
        #expect(plain.status == 5, "\(plain)")
    }
}
