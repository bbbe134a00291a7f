import Cairn
import CairnClient
import CairnCore
import CairnServer
import CairnTestSupport
import Foundation
import Logging
import Testing

/// PROTOCOL.md "Transport security (`tls`)", with certificates made at test time.
@Suite struct TLSTests {
    /// A TLS server on the set's server certificate (and, with `mutual`, its CA for clients).
    func withTLSServer(
        _ certificates: TestCertificates, mutual: Bool = false, _ body: (TestServer) async throws -> Void
    ) async throws {
        let server = try await TestServer {
            $0.tls = ServerTLSSettings(
                certificateFile: certificates.serverCertificate, keyFile: certificates.serverKey,
                clientCAFile: mutual ? certificates.caCertificate : nil)
        }
        do {
            try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    func connectError(_ connect: () async throws(CairnError) -> CairnClient) async -> CairnError? {
        do {
            let client = try await connect()
            // Under TLS 1.3 a refused client certificate may only show on the first request.
            do {
                _ = try await client.ping()
            } catch {
                await client.close()
                return error
            }
            await client.close()
            return nil
        } catch {
            return error
        }
    }

    @Test func verifiedConnectAnnouncesTLSAndServes() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        try await withTLSServer(certificates) { server in
            let client = try await CairnClient.connect(
                url: "cairns://127.0.0.1:\(server.port)", token: server.adminToken, tls: ClientTLSOptions(caFile: certificates.caCertificate))
            let features = client.hello["features"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(features.contains("tls"))
            _ = try await client.ping()
            await client.close()
            // By name as well as by address.
            let byName = try await CairnClient.connect(
                url: "cairns://localhost:\(server.port)", tls: ClientTLSOptions(caFile: certificates.caCertificate))
            _ = try await byName.ping()
            await byName.close()
        }
    }

    @Test func plaintextServerDoesNotAnnounceTLS() async throws {
        let server = try await TestServer()
        let client = try await server.client()
        let features = client.hello["features"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(!features.contains("tls"))
        await client.close()
        await server.stop()
    }

    @Test func unknownCAIsRefusedAndNamed() async throws {
        let certificates = try await TestCertificates()
        let stranger = try await TestCertificates(name: "stranger")
        defer {
            certificates.remove()
            stranger.remove()
        }
        try await withTLSServer(certificates) { server in
            let error = await connectError { () async throws(CairnError) in
                try await CairnClient.connect(host: "127.0.0.1", port: server.port, tls: ClientTLSOptions(caFile: stranger.caCertificate))
            }
            #expect(error?.reason == .connectionFailed)
            #expect(error?.message.contains("unknown CA") == true, "\(String(describing: error))")
        }
    }

    @Test func wrongHostIsRefusedAndNamed() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        let server = try await TestServer {
            $0.tls = ServerTLSSettings(certificateFile: certificates.otherHostCertificate, keyFile: certificates.otherHostKey)
        }
        for host in ["127.0.0.1", "localhost"] {
            let error = await connectError { () async throws(CairnError) in
                try await CairnClient.connect(host: host, port: server.port, tls: ClientTLSOptions(caFile: certificates.caCertificate))
            }
            #expect(error?.message.contains("wrong host") == true, "\(host): \(String(describing: error))")
        }
        await server.stop()
    }

    @Test func plaintextClientIsClosedWithoutHello() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        try await withTLSServer(certificates) { server in
            let raw = try await RawLineClient(port: server.port)
            try await raw.send("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n")
            // Closed, and not one line (no hello, no answer) came first.
            #expect(try await raw.readLine() == nil)
            await raw.close()
            // The Swift client says what to do.
            let error = await connectError { () async throws(CairnError) in try await CairnClient.connect(host: "127.0.0.1", port: server.port) }
            #expect(error?.message.contains("cairns://") == true, "\(String(describing: error))")
        }
    }

    @Test func tlsClientOnPlaintextServerIsNamed() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        let server = try await TestServer()
        let error = await connectError { () async throws(CairnError) in
            try await CairnClient.connect(url: "cairns://127.0.0.1:\(server.port)", tls: ClientTLSOptions(caFile: certificates.caCertificate))
        }
        #expect(error?.message.contains("speaks plaintext, not TLS") == true, "\(String(describing: error))")
        await server.stop()
    }

    @Test func mutualTLSNeedsAClientCertificateAndStillATokenAfterIt() async throws {
        let certificates = try await TestCertificates()
        let stranger = try await TestCertificates(name: "stranger")
        defer {
            certificates.remove()
            stranger.remove()
        }
        try await withTLSServer(certificates, mutual: true) { server in
            let withCertificate = ClientTLSOptions(
                caFile: certificates.caCertificate, certificateFile: certificates.clientCertificate, keyFile: certificates.clientKey)
            let client = try await CairnClient.connect(host: "127.0.0.1", port: server.port, tls: withCertificate)
            // The certificate opens the connection; the token is still required.
            await #expect(throws: CairnError.self) { _ = try await client.listNamespaces(try Scope(tenant: "t")) }
            _ = try await client.auth(token: server.adminToken)
            _ = try await client.ping()
            await client.close()

            let without = await connectError { () async throws(CairnError) in
                try await CairnClient.connect(host: "127.0.0.1", port: server.port, tls: ClientTLSOptions(caFile: certificates.caCertificate))
            }
            #expect(without?.reason == .connectionFailed, "\(String(describing: without))")
            #expect(without?.message.contains("client certificate") == true, "\(String(describing: without))")
            let foreign = ClientTLSOptions(
                caFile: certificates.caCertificate, certificateFile: stranger.clientCertificate, keyFile: stranger.clientKey)
            let wrongCA = await connectError { () async throws(CairnError) in
                try await CairnClient.connect(host: "127.0.0.1", port: server.port, tls: foreign)
            }
            #expect(wrongCA?.reason == .connectionFailed, "\(String(describing: wrongCA))")
        }
    }

    @Test func reloadServesTheNewCertificateToNewConnectionsAndKeepsOldOnes() async throws {
        let first = try await TestCertificates(name: "first")
        let second = try await TestCertificates(name: "second")
        let live = try await TestCertificates(name: "live")
        defer {
            first.remove()
            second.remove()
            live.remove()
        }
        let certificate = "\(live.folder)/served.pem"
        let key = "\(live.folder)/served-key.pem"
        try first.installServerCertificate(at: certificate, key: key)
        let server = try await TestServer { $0.tls = ServerTLSSettings(certificateFile: certificate, keyFile: key) }
        let old = try await CairnClient.connect(host: "127.0.0.1", port: server.port, token: server.adminToken, tls: ClientTLSOptions(caFile: first.caCertificate))

        try second.installServerCertificate(at: certificate, key: key)
        try server.server.reloadTLS()

        let fresh = try await CairnClient.connect(host: "127.0.0.1", port: server.port, tls: ClientTLSOptions(caFile: second.caCertificate))
        _ = try await fresh.ping()
        await fresh.close()
        let stale = await connectError { () async throws(CairnError) in
            try await CairnClient.connect(host: "127.0.0.1", port: server.port, tls: ClientTLSOptions(caFile: first.caCertificate))
        }
        #expect(stale?.message.contains("unknown CA") == true, "\(String(describing: stale))")
        // The connection made before the reload goes on.
        _ = try await old.ping()
        _ = try await old.listNamespaces(try Scope(tenant: "t"))
        await old.close()

        // A reload that cannot read its files changes nothing.
        try "not a certificate".write(toFile: certificate, atomically: true, encoding: .utf8)
        #expect(throws: CairnError.self) { try server.server.reloadTLS() }
        let still = try await CairnClient.connect(host: "127.0.0.1", port: server.port, tls: ClientTLSOptions(caFile: second.caCertificate))
        _ = try await still.ping()
        await still.close()
        await server.stop()
    }

    @Test func unreadableFilesAreNamedBeforeListening() throws {
        var configuration = ServerConfiguration(port: 0)
        configuration.tls = ServerTLSSettings(certificateFile: "/nonexistent/cert.pem", keyFile: "/nonexistent/key.pem")
        let error = #expect(throws: CairnError.self) { try configuration.validate() }
        #expect(error?.message.contains("/nonexistent/cert.pem") == true)
    }

    @Test func urlSchemes() throws {
        #expect(try CairnClient.parseTarget(url: "cairns://h:1").tls)
        #expect(try !CairnClient.parseTarget(url: "cairn://h:1").tls)
        #expect(try !CairnClient.parseTarget(url: "h:1").tls)
        #expect(throws: CairnError.self) { try CairnClient.parseTarget(url: "https://h:1") }
    }
}

/// The server names TLS refusals in its log.
@Suite struct TLSLogTests {
    @Test func plaintextClientsAndMissingClientCertificatesAreNamedInTheLog() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        let capture = LogCapture()
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.tls = ServerTLSSettings(
            certificateFile: certificates.serverCertificate, keyFile: certificates.serverKey, clientCAFile: certificates.caCertificate)
        let server = try await CairnServer.bind(
            configuration: configuration, store: TestRedis.store(),
            logger: Logger(label: "tls-log-test") { _ in CapturingLogHandler(capture: capture) })
        let running = Task { try await server.run() }

        let raw = try await RawLineClient(port: server.port)
        try await raw.send("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n")
        #expect(try await raw.readLine() == nil)
        await raw.close()
        await eventually { capture.all.contains { $0.contains("plaintext client on the TLS listener") } }

        let client = try? await CairnClient.connect(
            host: "127.0.0.1", port: server.port, tls: ClientTLSOptions(caFile: certificates.caCertificate))
        _ = try? await client?.ping()
        await client?.close()
        await eventually { capture.all.contains { $0.contains("the client sent no certificate") } }

        server.beginGracefulShutdown()
        _ = try? await running.value
    }
}
