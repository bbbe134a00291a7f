import CairnCore
import CairnTestSupport
import Foundation
import Logging
import MCP
import Testing

@testable import CairnMCP

/// The Streamable HTTP session registry against a real in-process cairnd: requests go straight
/// to `HTTPSessions` (no sockets), and idle time is given as an instant, so nothing waits.
@Suite struct HTTPSessionTests {
    static let initialize = Data(
        #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#.utf8)
    static let headers = ["Accept": "application/json, text/event-stream", "Content-Type": "application/json"]

    static func withSessions(_ configure: (inout MCPHTTPConfiguration) -> Void, _ body: (HTTPSessions, TestServer) async throws -> Void) async throws {
        let server = try await TestServer()
        var configuration = MCPHTTPConfiguration(cairnURL: server.url, host: "127.0.0.1", port: 0)
        configure(&configuration)
        let sessions = HTTPSessions(configuration: configuration, logger: Logger(label: "test-mcp"))
        do {
            try await body(sessions, server)
        } catch {
            await sessions.closeAll()
            await server.stop()
            throw error
        }
        await sessions.closeAll()
        await server.stop()
    }

    static func open(_ sessions: HTTPSessions, token: String, agent: String = "a1") async -> HTTPResponse {
        var headers = Self.headers
        headers["Authorization"] = "Bearer \(token)"
        return await sessions.handle(.init(method: "POST", headers: headers, body: initialize, path: "/mcp"), target: "/mcp?agent=\(agent)")
    }

    static func sessionID(_ response: HTTPResponse) -> String? {
        response.headers.first { $0.key.lowercased() == HTTPHeaderName.sessionID.lowercased() }?.value
    }

    static func ping(_ sessions: HTTPSessions, id: String, token: String) async -> HTTPResponse {
        var headers = Self.headers
        headers["Authorization"] = "Bearer \(token)"
        headers[HTTPHeaderName.sessionID] = id
        headers[HTTPHeaderName.protocolVersion] = "2025-06-18"
        return await sessions.handle(
            .init(method: "POST", headers: headers, body: Data(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.utf8), path: "/mcp"),
            target: "/mcp")
    }

    @Test func sessionCountIsBounded() async throws {
        try await Self.withSessions({ $0.maxSessions = 1 }) { sessions, server in
            let tenant = "mcp-\(UUID().uuidString.prefix(8))"
            let token = try await server.token(tenant: tenant, grants: ["read", "write"])
            let first = await Self.open(sessions, token: token)
            #expect(first.statusCode == 200)
            #expect(Self.sessionID(first) != nil)
            let second = await Self.open(sessions, token: token, agent: "a2")
            #expect(second.statusCode == 503)
            #expect(await sessions.count == 1)
        }
    }

    @Test func idleSessionsAreClosedAndThenUnknown() async throws {
        try await Self.withSessions({ $0.idleTimeout = .seconds(60) }) { sessions, server in
            let token = try await server.token(tenant: "mcp-\(UUID().uuidString.prefix(8))", grants: ["read"])
            let id = try #require(Self.sessionID(await Self.open(sessions, token: token)))
            #expect(await Self.ping(sessions, id: id, token: token).statusCode == 202)
            #expect(await sessions.reap(now: .now + .seconds(30)) == 0)
            #expect(await sessions.reap(now: .now + .seconds(61)) == 1)
            #expect(await Self.ping(sessions, id: id, token: token).statusCode == 404)
        }
    }

    @Test func aSessionPastItsByteBudgetIsClosed() async throws {
        try await Self.withSessions({ $0.maxSessionBytes = 1000 }) { sessions, server in
            let token = try await server.token(tenant: "mcp-\(UUID().uuidString.prefix(8))", grants: ["read"])
            let id = try #require(Self.sessionID(await Self.open(sessions, token: token)))
            #expect(await sessions.sent(600, by: id))
            #expect(await sessions.sent(600, by: id) == false)
            #expect(await sessions.count == 0)
            #expect(await Self.ping(sessions, id: id, token: token).statusCode == 404)
        }
    }

    @Test func aSessionAnswersOnlyTheTokenThatOpenedIt() async throws {
        try await Self.withSessions({ _ in }) { sessions, server in
            let tenant = "mcp-\(UUID().uuidString.prefix(8))"
            let token = try await server.token(tenant: tenant, grants: ["read"])
            let other = try await server.token(tenant: tenant, grants: ["read"])
            let id = try #require(Self.sessionID(await Self.open(sessions, token: token)))
            #expect(await Self.ping(sessions, id: id, token: other).statusCode == 404)
            #expect(await Self.ping(sessions, id: "no-such-session", token: token).statusCode == 404)
            #expect(await Self.ping(sessions, id: id, token: token).statusCode == 202)
        }
    }

    @Test func badTokensAndMissingAgentsAreRefusedBeforeASessionExists() async throws {
        try await Self.withSessions({ _ in }) { sessions, server in
            let bad = await Self.open(sessions, token: "not-a-token")
            #expect(bad.statusCode == 401)
            let token = try await server.token(tenant: "mcp-\(UUID().uuidString.prefix(8))", grants: ["read"])
            var headers = Self.headers
            headers["Authorization"] = "Bearer \(token)"
            let noAgent = await sessions.handle(.init(method: "POST", headers: headers, body: Self.initialize, path: "/mcp"), target: "/mcp")
            #expect(noAgent.statusCode == 400)
            let noToken = await sessions.handle(.init(method: "POST", headers: Self.headers, body: Self.initialize, path: "/mcp"), target: "/mcp?agent=a")
            #expect(noToken.statusCode == 401)
            #expect(await sessions.count == 0)
        }
    }
}
