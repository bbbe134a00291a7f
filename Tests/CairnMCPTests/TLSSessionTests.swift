import CairnClient
import CairnCore
import CairnServer
import CairnTestSupport
import Foundation
import Logging
import MCP
import Synchronization
import Testing

@testable import CairnMCP

/// An MCP session against a cairnd that speaks only TLS, signed by a private CA: both of the
/// session's connections (its tools, and the block watcher behind resource subscriptions) use
/// the CA they were given. The MCP side is the official SDK's `Client` on an in-memory transport.
@Suite struct TLSSessionTests {
    @Test func toolsAndResourceUpdatesWorkOverCairns() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        let server = try await TestServer {
            $0.tls = ServerTLSSettings(certificateFile: certificates.serverCertificate, keyFile: certificates.serverKey)
        }
        let tenant = "mcp-tls-\(UUID().uuidString.prefix(8))"
        let ns = try Namespace(tenant: tenant)
        let tls = ClientTLSOptions(caFile: certificates.caCertificate)
        let url = "cairns://127.0.0.1:\(server.port)"
        let writer = try await CairnClient.connect(url: url, token: server.adminToken, tls: tls, connectTimeout: .seconds(60))
        let session = try await MCPSession.open(
            try SessionSettings(url: url, tenant: tenant, agent: "a1"), token: server.adminToken, tls: tls,
            connectTimeout: .seconds(60), logger: Logger(label: "test-mcp"))
        let (clientSide, serverSide) = await InMemoryTransport.createConnectedPair()
        let client = Client(name: "tls-test", version: "1")
        do {
            try await writer.createBlock(ns, label: "notes", value: "first", agents: ["a1", "a2"])
            try await session.start(transport: serverSide)
            let heard = Mutex<[String]>([])
            await client.onNotification(ResourceUpdatedNotification.self) { message in
                heard.withLock { $0.append(message.params.uri) }
            }
            _ = try await client.connect(transport: clientSide)
            let uri = BlockResourceURI(tenant: tenant, task: nil, role: nil, label: "notes").string
            let (resources, _) = try await client.listResources()
            #expect(resources.map(\.uri) == [uri])
            try await client.subscribeToResource(uri: uri)
            try await writer.insert(ns, label: "notes", text: "second", agent: "a2")
            await eventually(30) { heard.withLock { $0 } == [uri] }
            #expect(heard.withLock { $0 } == [uri])
            let contents = try await client.readResource(uri: uri)
            #expect(contents.first?.text == "first\nsecond")
        } catch {
            await client.disconnect()
            await session.stop()
            await writer.close()
            await server.stop()
            throw error
        }
        await client.disconnect()
        await session.stop()
        await writer.close()
        await server.stop()
    }
}
