import Cairn
import CairnClient
import CairnProtocol
import CairnServer
import CairnTestSupport
import Foundation
import Testing

/// PROTOCOL.md "Authentication deadline".
@Suite struct AuthDeadlineTests {
    /// Reads the hello, then waits (up to 10 s) for the deadline's error and the close.
    func expectClosedForNoAuth(_ raw: RawLineClient, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let error = try #require(try await raw.readJSON(), sourceLocation: sourceLocation)
        #expect(error["id"] == .null, sourceLocation: sourceLocation)
        #expect(error["error"]?["code"] == 4001, sourceLocation: sourceLocation)
        #expect(error["error"]?["data"]?["reason"] == "unauthenticated", sourceLocation: sourceLocation)
        #expect(try await raw.readLine() == nil, sourceLocation: sourceLocation)
    }

    @Test func idleUnauthenticatedConnectionsGiveTheirSlotsBack() async throws {
        let server = try await TestServer {
            $0.maxConnections = 2
            // Long enough that the third connection surely comes while both still wait.
            $0.authTimeoutMilliseconds = 3000
        }
        let idle = [try await RawLineClient(port: server.port), try await RawLineClient(port: server.port)]
        for raw in idle { #expect(try await raw.readJSON()?["params"]?["auth_timeout_ms"] == 3000) }
        // Both slots are taken: a third connection is turned away.
        let third = try await RawLineClient(port: server.port)
        #expect(try await third.readJSON()?["error"]?["data"]?["reason"] == "too_many")
        await third.close()
        for raw in idle { try await expectClosedForNoAuth(raw) }
        await eventually { server.server.connectionCount == 0 }
        // The slots came back: an authenticated client gets in.
        let client = try await server.client(admin: true)
        #expect(try await client.ping())
        await client.close()
        await server.stop()
    }

    @Test func requestsBeforeAuthDoNotExtendIt() async throws {
        let server = try await TestServer { $0.authTimeoutMilliseconds = 300 }
        let raw = try await RawLineClient(port: server.port)
        _ = try await raw.readJSON()
        // Requests back to back, a failed auth among them, until the server closes: were each
        // to extend the deadline, the connection would stay open and the loop run on.
        let giveUp = ContinuousClock.now + .seconds(20)
        var sent = 0
        var deadlineError: JSONValue?
        while deadlineError == nil && ContinuousClock.now < giveUp {
            sent += 1
            let line = sent % 5 == 0
                ? #"{"id":\#(sent),"method":"auth","params":{"token":"cairn_wrong"}}"#
                : #"{"id":\#(sent),"method":"ping"}"#
            try? await raw.send(line + "\n")
            guard let answer = try await raw.readJSON() else { break }
            if answer["id"] == .null { deadlineError = answer }
        }
        #expect(sent > 1)
        let error = try #require(deadlineError)
        #expect(error["error"]?["code"] == 4001)
        #expect(error["error"]?["data"]?["reason"] == "unauthenticated")
        // Then closed (an answer already on its way may still come first).
        while let late = try await raw.readJSON() { #expect(late["id"] != .null) }
        await server.stop()
    }

    @Test func anAuthenticatedConnectionStaysOpen() async throws {
        let server = try await TestServer { $0.authTimeoutMilliseconds = 300 }
        let authed = try await server.client(admin: true)
        // A connection opened after it is closed for its deadline; by then the first one's
        // deadline has passed too.
        let later = try await RawLineClient(port: server.port)
        _ = try await later.readJSON()
        try await expectClosedForNoAuth(later)
        #expect(try await authed.ping())
        await authed.close()
        await server.stop()
    }

    @Test func withAuthNoneThereIsNoDeadline() async throws {
        let open = try await TestServer(auth: .none) { $0.authTimeoutMilliseconds = 300 }
        let required = try await TestServer { $0.authTimeoutMilliseconds = 300 }
        let client = try await open.client()
        #expect(client.hello["auth_timeout_ms"] == .null)
        let later = try await RawLineClient(port: required.port)
        #expect(try await later.readJSON()?["params"]?["auth_timeout_ms"] == 300)
        try await expectClosedForNoAuth(later)
        #expect(try await client.ping())
        await client.close()
        await open.stop()
        await required.stop()
    }
}
