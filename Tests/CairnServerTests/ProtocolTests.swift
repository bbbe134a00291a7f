import Cairn
import CairnClient
import CairnProtocol
import CairnServer
import CairnTestSupport
import Foundation
import NIOPosix
import Testing

@Suite struct ProtocolTests {
    /// A raw connection to a fresh server, authenticated as the server admin.
    func connect(_ server: TestServer, auth: Bool = true) async throws -> RawLineClient {
        let raw = try await RawLineClient(port: server.port)
        let hello = try #require(try await raw.readJSON())
        #expect(hello["method"] == "hello")
        if auth {
            try await raw.send(#"{"jsonrpc":"2.0","id":0,"method":"auth","params":{"token":"\#(server.adminToken)"}}"# + "\n")
            #expect(try await raw.readJSON()?["result"]?["principal"] == "admin")
        }
        return raw
    }

    @Test func helloComesFirst() async throws {
        let server = try await TestServer()
        let raw = try await RawLineClient(port: server.port)
        let hello = try #require(try await raw.readJSON())
        #expect(hello["jsonrpc"] == "2.0")
        #expect(hello["id"] == nil)
        #expect(hello["method"] == "hello")
        #expect(hello["params"]?["server"] == "cairn")
        #expect(hello["params"]?["protocol"] == 1)
        #expect(hello["params"]?["auth"] == "required")
        #expect(hello["params"]?["max_line_bytes"] == 1_048_576)
        #expect(hello["params"]?["version"]?.stringValue != nil)
        #expect(hello["params"]?["auth_timeout_ms"] == .int(server.server.configuration.authTimeoutMilliseconds))
        #expect(ServerConfiguration().authTimeoutMilliseconds == 10_000)  // the default (TestServer sets a longer one)
        #expect(hello["params"]?["features"]?.arrayValue?.contains("request_id") == true)
        await raw.close()
        await server.stop()
    }

    @Test func parseErrorKeepsTheConnection() async throws {
        let server = try await TestServer()
        let raw = try await connect(server)
        try await raw.send("this is not json\n")
        let error = try #require(try await raw.readJSON())
        #expect(error["id"] == .null)
        #expect(error["error"]?["code"] == -32700)
        #expect(error["error"]?["data"]?["reason"] == "parse_error")
        try await raw.send(#"{"id":5,"method":"ping"}"# + "\r\n")  // no "jsonrpc", CRLF: both fine
        let pong = try #require(try await raw.readJSON())
        #expect(pong["id"] == 5 && pong["result"]?["pong"] == true)
        await raw.close()
        await server.stop()
    }

    @Test func overlongLineIsAnsweredThenClosed() async throws {
        let server = try await TestServer { $0.maxLineBytes = 4096 }
        let raw = try await connect(server)
        let long = #"{"id":1,"method":"put","params":{"value":""# + String(repeating: "x", count: 10_000) + "\"}}\n"
        try await raw.send(long)
        let error = try #require(try await raw.readJSON())
        #expect(error["id"] == .null)
        #expect(error["error"]?["code"] == -32600)
        #expect(error["error"]?["data"]?["reason"] == "line_too_long")
        #expect(try await raw.readLine() == nil)  // closed
        // A line just under the limit is fine on a new connection.
        let ok = try await connect(server)
        // (Padded with an envelope member: those are ignored; an unknown param would be refused.)
        let fits = #"{"id":2,"method":"ping","pad":""# + String(repeating: "y", count: 3000) + "\"}\n"
        try await ok.send(fits)
        #expect(try await ok.readJSON()?["result"]?["pong"] == true)
        await ok.close()
        await server.stop()
    }

    @Test func invalidRequests() async throws {
        let server = try await TestServer()
        let raw = try await connect(server)
        let cases: [(String, JSONValue, String)] = [
            (#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#, 1, "invalid_request"),
            (#"{"id":2}"#, 2, "invalid_request"),
            (#"{"id":3,"method":7}"#, 3, "invalid_request"),
            (#""just a string""#, .null, "invalid_request"),
            ("[]", .null, "invalid_request"),
            (#"{"id":4,"method":"no.such.method"}"#, 4, "method_not_found"),
            (#"{"id":5,"method":"ping","params":[1]}"#, 5, "invalid_params"),
        ]
        for (line, id, reason) in cases {
            try await raw.send(line + "\n")
            let answer = try #require(try await raw.readJSON())
            #expect(answer["id"] == id, "\(line)")
            #expect(answer["error"]?["data"]?["reason"] == .string(reason), "\(line)")
            #expect(answer["error"]?["code"] == .int(CairnError.Reason(rawValue: reason)!.code), "\(line)")
            #expect(answer["error"]?["message"]?.stringValue?.isEmpty == false)
        }
        try await raw.send(#"{"id":6,"method":"no.such.method"}"# + "\n")
        #expect(try await raw.readJSON()?["error"]?["data"]?["method"] == "no.such.method")
        await raw.close()
        await server.stop()
    }

    @Test func invalidParamsNameTheirField() async throws {
        let server = try await TestServer { _ in }
        let raw = try await connect(server)
        let tenant = uniqueTenant()
        let ns = #"{"tenant":"\#(tenant)"}"#
        let cases: [(String, String, String)] = [
            (#""method":"put","params":{"ns":\#(ns),"value":1}"#, "invalid_params", "key"),
            (#""method":"put","params":{"ns":\#(ns),"key":"k"}"#, "invalid_params", "value"),
            (#""method":"put","params":{"key":"k","value":1}"#, "invalid_params", "ns"),
            (#""method":"put","params":{"ns":{"tenant":""},"key":"k","value":1}"#, "invalid_namespace", "ns.tenant"),
            (#""method":"put","params":{"ns":{"tenant":"a","task":5},"key":"k","value":1}"#, "invalid_namespace", "ns.task"),
            (#""method":"put","params":{"ns":{"tenant":"a","role":"r\u0001"},"key":"k","value":1}"#, "invalid_namespace", "ns.role"),
            (#""method":"put","params":{"ns":\#(ns),"key":"","value":1}"#, "invalid_key", "key"),
            (#""method":"put","params":{"ns":\#(ns),"key":"k","value":null}"#, "invalid_value", "value"),
            (#""method":"put","params":{"ns":\#(ns),"key":"k","value":1,"if_version":"x"}"#, "invalid_params", "if_version"),
            (#""method":"put","params":{"ns":\#(ns),"key":"k","value":1,"if_version":-1}"#, "invalid_params", "if_version"),
            (#""method":"put","params":{"ns":\#(ns),"key":"k","value":1,"agent":""}"#, "invalid_key", "agent"),
            (#""method":"put","params":{"ns":\#(ns),"key":"k","value":1,"reason":7}"#, "invalid_params", "reason"),
            (#""method":"put","params":{"ns":\#(ns),"key":"k","value":"\#(String(repeating: "v", count: 300_000))"}"#, "value_too_large", "value"),
            (#""method":"get","params":{"ns":\#(ns),"key":"k","version":0}"#, "invalid_params", "version"),
            (#""method":"search","params":{"scope":\#(ns),"limit":1001}"#, "invalid_params", "limit"),
            (#""method":"search","params":{"scope":\#(ns),"offset":-1}"#, "invalid_params", "offset"),
            (#""method":"search","params":{"scope":\#(ns),"filter":{"a":{"$regex":"x"}}}"#, "invalid_filter", "filter"),
            (#""method":"search","params":{"scope":{"task":"t"}}"#, "invalid_namespace", "scope.tenant"),
            (#""method":"search","params":{"scope":\#(ns),"query":"  "}"#, "invalid_params", "query"),
            (#""method":"log","params":{"scope":\#(ns),"since":"yesterday"}"#, "invalid_params", "since"),
            (#""method":"history","params":{"ns":\#(ns),"key":"k","before_version":0}"#, "invalid_params", "before_version"),
            (#""method":"token.create","params":{"tenant":"\#(tenant)","principal":"p","grants":["fly"]}"#, "invalid_params", "grants"),
            (#""method":"token.create","params":{"tenant":"\#(tenant)","principal":"p","grants":[]}"#, "invalid_params", "grants"),
            (#""method":"token.list","params":{}"#, "invalid_params", "tenant"),
        ]
        for (i, (body, reason, field)) in cases.enumerated() {
            try await raw.send(#"{"id":\#(i),"# + body + "}\n")
            let answer = try #require(try await raw.readJSON())
            #expect(answer["id"] == .int(i))
            #expect(answer["error"]?["data"]?["reason"] == .string(reason), "\(body.prefix(120))")
            #expect(answer["error"]?["data"]?["field"] == .string(field), "\(body.prefix(120))")
            #expect(answer["error"]?["code"] == -32602)
        }
        // None of them wrote anything.
        #expect(try await server.store.listNamespaces(try Scope(tenant: tenant)).isEmpty)
        #expect(try await server.store.log(try Scope(tenant: tenant)).isEmpty)
        await raw.close()
        await server.stop()
    }

    @Test func thousandPipelinedRequestsAnswerInOrder() async throws {
        let server = try await TestServer()
        let raw = try await connect(server)
        let tenant = uniqueTenant()
        var text = ""
        for i in 1...1000 {
            switch i % 3 {
            case 0: text += #"{"id":\#(i),"method":"put","params":{"ns":{"tenant":"\#(tenant)"},"key":"k\#(i % 7)","value":\#(i)}}"# + "\n"
            case 1: text += #"{"id":"s\#(i)","method":"get","params":{"ns":{"tenant":"\#(tenant)"},"key":"k\#(i % 7)"}}"# + "\n"
            default: text += #"{"id":\#(i),"method":"ping"}"# + "\n"
            }
        }
        try await raw.send(text)  // all at once, without waiting
        for i in 1...1000 {
            let answer = try #require(try await raw.readJSON())
            let expected: JSONValue = i % 3 == 1 ? .string("s\(i)") : .int(i)
            #expect(answer["id"] == expected)
            #expect(answer["error"] == nil)
            if answer["id"] != expected { break }
        }
        // Executed in order too: every put landed, the last one of each key wins.
        let item = try #require(try await server.store.get(try Namespace(tenant: tenant), key: "k6"))
        #expect(item.value == 993)
        await raw.close()
        await server.stop()
    }

    @Test func batchesFailOnlyTheirBadEntries() async throws {
        let server = try await TestServer()
        let raw = try await connect(server)
        let tenant = uniqueTenant()
        try await raw.send(
            #"[{"jsonrpc":"2.0","id":1,"method":"put","params":{"ns":{"tenant":"\#(tenant)"},"key":"a","value":1}},"#
                + #"{"id":2,"method":"put","params":{"ns":{"tenant":"\#(tenant)"},"key":"","value":2}},"#
                + #"42,"#
                + #"{"method":"put","params":{"ns":{"tenant":"\#(tenant)"},"key":"n","value":3}},"#
                + #"{"id":3,"method":"get","params":{"ns":{"tenant":"\#(tenant)"},"key":"a"}}]"# + "\n")
        let answer = try #require(try await raw.readJSON()?.arrayValue)
        #expect(answer.count == 4)  // the notification in the batch is not answered
        #expect(answer[0]["id"] == 1 && answer[0]["result"]?["version"] == 1)
        #expect(answer[1]["id"] == 2 && answer[1]["error"]?["data"]?["reason"] == "invalid_key")
        #expect(answer[2]["id"] == .null && answer[2]["error"]?["data"]?["reason"] == "invalid_request")
        #expect(answer[3]["id"] == 3 && answer[3]["result"]?["value"] == 1)
        #expect(try await server.store.get(try Namespace(tenant: tenant), key: "n")?.value == 3)
        // A batch of notifications only gets no answer at all.
        try await raw.send(#"[{"method":"ping"},{"method":"ping"}]"# + "\n" + #"{"id":9,"method":"ping"}"# + "\n")
        #expect(try await raw.readJSON()?["id"] == 9)
        await raw.close()
        await server.stop()
    }

    @Test func notificationsAreExecutedButNotAnswered() async throws {
        let server = try await TestServer()
        let raw = try await connect(server)
        let tenant = uniqueTenant()
        try await raw.send(#"{"jsonrpc":"2.0","method":"put","params":{"ns":{"tenant":"\#(tenant)"},"key":"k","value":"quiet"}}"# + "\n")
        try await raw.send(#"{"jsonrpc":"2.0","method":"no.such.method"}"# + "\n")
        try await raw.send(#"{"jsonrpc":"2.0","id":"after","method":"get","params":{"ns":{"tenant":"\#(tenant)"},"key":"k"}}"# + "\n")
        let next = try #require(try await raw.readJSON())
        #expect(next["id"] == "after")
        #expect(next["result"]?["value"] == "quiet")
        await raw.close()
        await server.stop()
    }

    @Test func metricsCountRequests() async throws {
        let server = try await TestServer()
        let client = try await server.client(admin: true)
        try await client.ping()
        _ = try? await client.call("nope")
        let text = String(decoding: server.server.metrics.exposition(), as: UTF8.self)
        #expect(text.contains(#"cairn_requests_total{method="ping",outcome="ok"} 1"#))
        #expect(text.contains(#"cairn_requests_total{method="unknown",outcome="method_not_found"} 1"#))
        #expect(text.contains("cairn_request_duration_seconds_bucket"))
        #expect(text.contains("cairn_connections_open 1"))
        await client.close()
        await server.stop()
    }
}

@Suite struct HalfCloseTests {
    @Test func clientThatClosesItsSideStillGetsEveryAnswer() async throws {
        let server = try await TestServer()
        let raw = try await RawLineClient(port: server.port)
        var text = #"{"id":0,"method":"auth","params":{"token":"\#(server.adminToken)"}}"# + "\n"
        for i in 1...20 { text += #"{"id":\#(i),"method":"ping"}"# + "\n" }
        try await raw.send(text)
        try await raw.shutdownOutput()
        #expect(try await raw.readJSON()?["method"] == "hello")
        for i in 0...20 { #expect(try await raw.readJSON()?["id"] == .int(i)) }
        #expect(try await raw.readLine() == nil)  // then the server closes
        await server.stop()
    }
}

@Suite struct ClientConnectTests {
    @Test func aServerThatNeverGreetsTimesOut() async throws {
        // A plain TCP listener that accepts and says nothing (a Redis port would greet nothing too).
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = silent.localAddress!.port!
        let started = ContinuousClock.now
        let error = await expectError(.connectionFailed) { () throws(CairnError) in
            _ = try await CairnClient.connect(host: "127.0.0.1", port: port, connectTimeout: .milliseconds(300))
        }
        // The given timeout ended the wait (not the 5 s default): the error names it. The clock
        // bound only catches a hang; a busy machine may stretch 300 ms by seconds.
        #expect(error?.message.contains("within 0.3 seconds") == true, "\(String(describing: error))")
        #expect(ContinuousClock.now - started < .seconds(60))
        try await silent.close()
    }
}
