import Cairn
import CairnClient
import CairnProtocol
import CairnServer
import CairnTestSupport
import Foundation
import Testing

/// PROTOCOL.md "Authentication deadline".
///
/// Each test needs its set-up (connecting, authenticating, a first answer) to finish before the
/// deadline passes, and a busy machine may take seconds for that. So each runs against servers
/// with a deadline of 300 ms, then twice that, and so on, until the set-up finished in time;
/// what it then checks does not depend on timing.
@Suite struct AuthDeadlineTests {
    enum Attempt { case done, tooSlow }

    func withLongEnoughDeadline(
        auth: ServerConfiguration.AuthMode = .required, maxConnections: Int = 10_000,
        _ attempt: (TestServer, Int) async throws -> Attempt
    ) async throws {
        var milliseconds = 300
        while true {
            let server = try await TestServer(auth: auth) {
                $0.authTimeoutMilliseconds = milliseconds
                $0.maxConnections = maxConnections
            }
            let outcome = try await attempt(server, milliseconds)
            await server.stop()
            if outcome == .done { return }
            milliseconds *= 2
            if milliseconds > 60_000 {
                Issue.record("the set-up never finished within the deadline")
                return
            }
        }
    }

    /// The deadline's error (id null, 4001 unauthenticated), then the close.
    func expectClosedForNoAuth(
        _ raw: RawLineClient, within milliseconds: Int, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let timeout = Double(milliseconds) / 1000 + 20
        var error = try #require(try await raw.readJSON(timeout: timeout), sourceLocation: sourceLocation)
        // (An answer already on its way may come first.)
        while error["id"] != .null, let next = try await raw.readJSON(timeout: timeout) { error = next }
        #expect(error["id"] == .null, sourceLocation: sourceLocation)
        #expect(error["error"]?["code"] == 4001, sourceLocation: sourceLocation)
        #expect(error["error"]?["data"]?["reason"] == "unauthenticated", sourceLocation: sourceLocation)
        #expect(try await raw.readLine(timeout: timeout) == nil, sourceLocation: sourceLocation)
    }

    @Test func idleUnauthenticatedConnectionsGiveTheirSlotsBack() async throws {
        try await withLongEnoughDeadline(maxConnections: 2) { server, milliseconds in
            let idle = [try await RawLineClient(port: server.port), try await RawLineClient(port: server.port)]
            for raw in idle { #expect(try await raw.readJSON()?["params"]?["auth_timeout_ms"] == .int(milliseconds)) }
            // Both slots are taken: a third connection is turned away (unless the deadline
            // already passed and it got a slot: too slow, try a longer one).
            let third = try await RawLineClient(port: server.port)
            let first = try #require(try await third.readJSON())
            await third.close()
            if first["method"] == "hello" {
                for raw in idle { await raw.close() }
                return .tooSlow
            }
            #expect(first["error"]?["data"]?["reason"] == "too_many")
            for raw in idle { try await expectClosedForNoAuth(raw, within: milliseconds) }
            await eventually(30) { server.server.connectionCount == 0 }
            // The slots came back: an authenticated client gets in.
            let client: CairnClient
            do {
                client = try await server.client(admin: true)
            } catch let error as CairnError where error.reason == .tooMany {
                Issue.record("the slots did not come back: \(error)")
                return .done
            } catch {
                return .tooSlow  // its own `auth` outlived this short deadline: try a longer one
            }
            #expect(try await client.ping())
            await client.close()
            return .done
        }
    }

    @Test func requestsBeforeAuthDoNotExtendIt() async throws {
        try await withLongEnoughDeadline { server, milliseconds in
            let raw = try await RawLineClient(port: server.port)
            _ = try await raw.readJSON()
            // Requests back to back, a failed auth among them, until the server closes: were
            // each to extend the deadline, the connection would stay open and the loop run on.
            let giveUp = ContinuousClock.now + .milliseconds(milliseconds) + .seconds(30)
            var answered = 0
            var deadlineError: JSONValue?
            while deadlineError == nil && ContinuousClock.now < giveUp {
                let id = answered + 1
                let line =
                    id % 5 == 0
                    ? #"{"id":\#(id),"method":"auth","params":{"token":"cairn_wrong"}}"#
                    : #"{"id":\#(id),"method":"ping"}"#
                try? await raw.send(line + "\n")
                guard let answer = try await raw.readJSON(timeout: 30) else { break }
                if answer["id"] == .null { deadlineError = answer } else { answered += 1 }
            }
            let error = try #require(deadlineError)
            #expect(error["error"]?["code"] == 4001)
            #expect(error["error"]?["data"]?["reason"] == "unauthenticated")
            while let late = try await raw.readJSON(timeout: 30) { #expect(late["id"] != .null) }  // then closed
            return answered >= 5 ? .done : .tooSlow  // a failed auth was among them
        }
    }

    @Test func anAuthenticatedConnectionStaysOpen() async throws {
        try await withLongEnoughDeadline { server, milliseconds in
            let authed = try await RawLineClient(port: server.port)
            try await authed.send(#"{"id":1,"method":"auth","params":{"token":"\#(server.adminToken)"}}"# + "\n")
            _ = try await authed.readJSON()  // hello
            guard try await authed.readJSON(timeout: 30)?["id"] == 1 else { return .tooSlow }
            // A connection opened after it is closed for its deadline; by then the first one's
            // deadline has passed too.
            let later = try await RawLineClient(port: server.port)
            _ = try await later.readJSON()
            try await expectClosedForNoAuth(later, within: milliseconds)
            try await authed.send(#"{"id":2,"method":"ping"}"# + "\n")
            #expect(try await authed.readJSON()?["result"]?["pong"] == true)
            await authed.close()
            return .done
        }
    }

    @Test func aConnectionWhoseTokenIsRevokedGetsANewDeadline() async throws {
        try await withLongEnoughDeadline { server, milliseconds in
            let t = uniqueTenant()
            // The admin's own connection has the same short deadline: on a busy machine its
            // `auth` may come too late and the server closes it. That is set-up too slow for
            // this deadline, not a failure: try a longer one.
            let admin: CairnClient
            do {
                admin = try await server.client(admin: true)
            } catch {
                return .tooSlow
            }
            defer { Task { await admin.close() } }
            let minted = try await admin.createToken(tenant: t, principal: "temp", grants: ["read"])
            let raw = try await RawLineClient(port: server.port)
            try await raw.send(#"{"id":1,"method":"auth","params":{"token":"\#(minted.token)"}}"# + "\n")
            _ = try await raw.readJSON()  // hello
            guard try await raw.readJSON(timeout: 30)?["result"]?["principal"] == "temp" else { return .tooSlow }
            try await admin.revokeToken(id: minted.tokenID)
            try await raw.send(#"{"id":2,"method":"get","params":{"ns":{"tenant":"\#(t)"},"key":"k"}}"# + "\n")
            let refused = try #require(try await raw.readJSON(timeout: 30))
            #expect(refused["id"] == 2 && refused["error"]?["code"] == 4001)
            // Unauthenticated again: closed once a new deadline passes.
            try await expectClosedForNoAuth(raw, within: milliseconds)
            return .done
        }
    }

    @Test func withAuthNoneThereIsNoDeadline() async throws {
        let open = try await TestServer(auth: .none) { $0.authTimeoutMilliseconds = 300 }
        let client = try await open.client()
        #expect(client.hello["auth_timeout_ms"] == .null)
        let required = try await TestServer { $0.authTimeoutMilliseconds = 300 }
        // Connected after the client above: once it is closed, 300 ms have passed for both.
        let later = try await RawLineClient(port: required.port)
        #expect(try await later.readJSON()?["params"]?["auth_timeout_ms"] == 300)
        try await expectClosedForNoAuth(later, within: 300)
        #expect(try await client.ping())
        await client.close()
        await open.stop()
        await required.stop()
    }
}
