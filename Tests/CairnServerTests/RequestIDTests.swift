import Cairn
@testable import CairnClient
import CairnProtocol
import CairnServer
import CairnTestSupport
import Testing

/// `request_id` on the wire: replays, reuse, validation, `hello`, and the Swift client's
/// retries through a broken connection.
@Suite struct RequestIDTests {
    @Test func theClientGivesWritesARequestIDAndBacksOffWithinBounds() {
        let put = CairnClient.withRequestID("put", ["key": "k"])
        #expect(put["request_id"]?.stringValue?.utf8.count == 36)
        #expect(CairnClient.withRequestID("put", ["request_id": "mine"])["request_id"] == "mine")
        #expect(CairnClient.withRequestID("get", ["key": "k"])["request_id"] == nil)
        #expect(CairnClient.isRetryable("block.insert", CairnError.outcomeUnknown("lost")))
        #expect(!CairnClient.isRetryable("get", CairnError.outcomeUnknown("lost")))
        #expect(CairnClient.isRetryable("get", CairnError.unavailable("down")))
        #expect(!CairnClient.isRetryable("put", CairnError(.versionConflict, "no")))
        let policy = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(50), maxDelay: .milliseconds(400))
        for attempt in 1...10 {
            let bound = min(400, 50 << (attempt - 1))
            #expect(policy.delay(afterAttempt: attempt, retryAfterMs: nil) <= .milliseconds(bound))
            #expect(policy.delay(afterAttempt: attempt, retryAfterMs: 500) >= .milliseconds(500))
        }
    }

    @Test func helloAnnouncesTheRetention() async throws {
        let server = try await TestServer(storeOptions: StoreOptions(requestIDRetentionMs: 60_000))
        let client = try await server.client(admin: true)
        #expect(client.hello["request_id_retention_ms"] == 60_000)
        await client.close()
        await server.stop()
    }

    @Test func aReplayIsMarkedAndWritesNothing() async throws {
        let server = try await TestServer()
        let client = try await server.client(admin: true)
        let ns: JSONValue = ["tenant": .string(uniqueTenant())]
        let first = try await client.call("put", ["ns": ns, "key": "k", "value": 1, "request_id": "w-1"])
        #expect(first["replayed"] == nil)
        let again = try await client.call("put", ["ns": ns, "key": "k", "value": 1, "request_id": "w-1"])
        #expect(again["replayed"] == true && again["version"] == first["version"] && again["updated_at"] == first["updated_at"])
        let history = try await client.call("history", ["ns": ns, "key": "k"])
        #expect(history["entries"]?.arrayValue?.count == 1)

        try await client.call("block.create", ["ns": ns, "label": "b", "request_id": "c-1"])
        let inserted = try await client.call("block.insert", ["ns": ns, "label": "b", "text": "x", "request_id": "i-1"])
        let replayed = try await client.call("block.insert", ["ns": ns, "label": "b", "text": "x", "request_id": "i-1"])
        #expect(replayed["replayed"] == true && replayed["value"] == inserted["value"] && replayed["version"] == inserted["version"])
        let attached = try await client.call("block.attach", ["ns": ns, "label": "b", "agent": "a", "request_id": "a-1"])
        #expect(attached == [:])
        #expect(try await client.call("block.attach", ["ns": ns, "label": "b", "agent": "a", "request_id": "a-1"]) == ["replayed": true])
        await client.close()
        await server.stop()
    }

    @Test func reuseAndBadIDsAreInvalidParams() async throws {
        let server = try await TestServer()
        let client = try await server.client(admin: true)
        let ns: JSONValue = ["tenant": .string(uniqueTenant())]
        try await client.call("put", ["ns": ns, "key": "a", "value": 1, "request_id": "same"])
        do {
            _ = try await client.call("put", ["ns": ns, "key": "b", "value": 1, "request_id": "same"])
            Issue.record("a reused request_id was accepted")
        } catch {
            #expect(error.reason == .invalidParams && error.field == "request_id" && error.data["reason_detail"] == "reused")
        }
        for bad: JSONValue in ["", .string(String(repeating: "x", count: 129)), "a\u{1}b", 7] {
            do {
                _ = try await client.call("put", ["ns": ns, "key": "c", "value": 1, "request_id": bad])
                Issue.record("request_id \(bad) was accepted")
            } catch {
                #expect(error.reason == .invalidParams && error.field == "request_id")
            }
        }
        #expect(try await client.call("get", ["ns": ns, "key": "b"]) == .null)
        #expect(try await client.call("get", ["ns": ns, "key": "c"]) == .null)
        // null means absent.
        #expect(try await client.call("put", ["ns": ns, "key": "d", "value": 1, "request_id": .null])["version"] == 1)
        await client.close()
        await server.stop()
    }

    @Test func theSwiftClientRetriesAWriteWhoseAnswerWasLostAndItLandsOnce() async throws {
        let server = try await TestServer()
        let proxy = try await CuttingProxy(targetPort: server.port, marker: #""method":"block.insert""#)
        let client = try await CairnClient.connect(host: "127.0.0.1", port: proxy.port, token: server.adminToken)
        let ns: JSONValue = ["tenant": .string(uniqueTenant())]
        try await client.call("block.create", ["ns": ns, "label": "notes", "value": "start"])
        proxy.cutNext(1)
        let inserted = try await client.call("block.insert", ["ns": ns, "label": "notes", "text": "finding"])
        #expect(proxy.cuts == 1)
        #expect(inserted["version"] == 2 && inserted["value"] == "start\nfinding")
        let block = try await client.call("block.get", ["ns": ns, "label": "notes"])
        #expect(block["value"] == "start\nfinding" && block["version"] == 2)
        await client.close()
        await proxy.close()
        await server.stop()
    }
}
