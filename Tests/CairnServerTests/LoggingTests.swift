import Cairn
import CairnClient
import CairnServer
import CairnTestSupport
import Foundation
import Logging
import Synchronization
import Testing

/// Keeps every log line (message and metadata) a server writes.
final class LogCapture: Sendable {
    let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
}

struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        capture.lines.withLock { $0.append("\(event.level) \(event.message) \(merged)") }
    }
}

@Suite struct LoggingTests {
    @Test func logsNameConnectionsAndPrincipalsButNeverTokens() async throws {
        let capture = LogCapture()
        let adminToken = "log-test-admin-" + UUID().uuidString
        let server = try await CairnServer.bind(
            configuration: ServerConfiguration(host: "127.0.0.1", port: 0, adminTokenHashes: [TokenStore.hash(adminToken)]),
            store: TestRedis.store(), logger: Logger(label: "log-test") { _ in CapturingLogHandler(capture: capture) })
        let running = Task { try await server.run() }
        let t = uniqueTenant()
        let admin = try await CairnClient.connect(port: server.port, token: adminToken)
        let minted = try await admin.createToken(tenant: t, principal: "logged-agent", grants: ["read"])
        let agent = try await CairnClient.connect(port: server.port, token: minted.token)
        _ = try await agent.get(try Namespace(tenant: t), key: "k")
        await expectError(.unauthenticated) { () throws(CairnError) in try await agent.auth(token: minted.token + "x") }
        try await admin.revokeToken(id: minted.tokenID)
        await agent.close()
        await admin.close()
        await eventually { capture.all.filter { $0.contains("connection closed") }.count >= 2 }
        server.beginGracefulShutdown()
        _ = try? await running.value

        let lines = capture.all
        #expect(lines.contains { $0.contains("connection opened") && $0.contains("remote") })
        #expect(lines.contains { $0.contains("authenticated as logged-agent") && $0.contains(minted.tokenID) })
        #expect(lines.contains { $0.contains("revoked") && $0.contains(minted.tokenID) })
        let secretPart = String(minted.token.split(separator: "_").last!)
        for line in lines {
            #expect(!line.contains(adminToken), "\(line)")
            #expect(!line.contains(secretPart), "\(line)")
        }
    }
}
