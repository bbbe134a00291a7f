import Cairn
import CairnClient
import CairnProtocol
@testable import CairnServer
import CairnTestSupport
import Foundation
import Testing

/// PROTOCOL.md "Stricter requests": unknown params are errors, ids come back exactly.
@Suite struct StrictRequestTests {
    func connect(_ server: TestServer) async throws -> RawLineClient {
        let raw = try await RawLineClient(port: server.port)
        #expect(try await raw.readJSON()?["method"] == "hello")
        try await raw.send(#"{"id":0,"method":"auth","params":{"token":"\#(server.adminToken)"}}"# + "\n")
        #expect(try await raw.readJSON()?["result"]?["principal"] == "admin")
        return raw
    }

    @Test func aMisspeltIfVersionIsRefusedAndWritesNothing() async throws {
        let server = try await TestServer()
        let raw = try await connect(server)
        let tenant = uniqueTenant()
        let ns = #"{"tenant":"\#(tenant)"}"#
        try await raw.send(#"{"id":1,"method":"put","params":{"ns":\#(ns),"key":"k","value":"first"}}"# + "\n")
        #expect(try await raw.readJSON()?["result"]?["version"] == 1)
        // A stale compare-and-set with the typo: it must not become a blind overwrite.
        try await raw.send(#"{"id":2,"method":"put","params":{"ns":\#(ns),"key":"k","value":"second","ifversion":7}}"# + "\n")
        let refused = try #require(try await raw.readJSON())
        #expect(refused["id"] == 2)
        #expect(refused["error"]?["code"] == -32602)
        #expect(refused["error"]?["data"]?["reason"] == "invalid_params")
        #expect(refused["error"]?["data"]?["field"] == "ifversion")
        let item = try #require(try await server.store.get(try Namespace(tenant: tenant), key: "k"))
        #expect(item.value == "first" && item.version == 1)
        // The same for a block edit, and before authentication is even looked at.
        let anonymous = try await RawLineClient(port: server.port)
        _ = try await anonymous.readJSON()
        try await anonymous.send(#"{"id":3,"method":"block.rethink","params":{"ns":\#(ns),"label":"b","value":"v","if_verison":1}}"# + "\n")
        #expect(try await anonymous.readJSON()?["error"]?["data"]?["field"] == "if_verison")
        await anonymous.close()
        await raw.close()
        await server.stop()
    }

    @Test func everyMethodRefusesUnknownParamsAndMisspellings() async throws {
        let server = try await TestServer()
        let raw = try await connect(server)
        var sent = 0
        for (name, method) in MethodTable.standard.methods.sorted(by: { $0.key < $1.key }) {
            // A stranger, and each declared name with one letter too many.
            for unknown in ["zz_not_a_param"] + method.params.names.map({ $0 + "x" }) {
                sent += 1
                try await raw.send(#"{"id":\#(sent),"method":"\#(name)","params":{"\#(unknown)":1}}"# + "\n")
                let answer = try #require(try await raw.readJSON())
                #expect(answer["id"] == .int(sent))
                #expect(answer["error"]?["data"]?["reason"] == "invalid_params", "\(name) \(unknown) → \(answer)")
                #expect(answer["error"]?["data"]?["field"] == .string(unknown), "\(name) \(unknown)")
            }
        }
        #expect(sent > 40)
        // Every write method takes request_id (PROTOCOL 1.1).
        for name in [
            "put", "delete", "block.create", "block.update", "block.insert", "block.replace", "block.rethink", "block.delete",
            "block.attach", "block.detach",
        ] {
            #expect(MethodTable.standard.methods[name]?.params.contains("request_id") == true, "\(name)")
        }
        // Unknown members of the envelope are ignored.
        try await raw.send(#"{"id":"e","method":"ping","trace":{"span":1},"params":{}}"# + "\n")
        #expect(try await raw.readJSON()?["result"]?["pong"] == true)
        await raw.close()
        await server.stop()
    }

    @Test func misspeltNamespaceAndTokenScopeMembersAreRefused() async throws {
        let server = try await TestServer()
        let raw = try await connect(server)
        let tenant = uniqueTenant()
        let cases: [(String, String, String)] = [
            (#""method":"put","params":{"ns":{"tenant":"\#(tenant)","taks":"t1"},"key":"k","value":1}"#, "invalid_namespace", "ns.taks"),
            (#""method":"search","params":{"scope":{"tenant":"\#(tenant)","rol":null}}"#, "invalid_namespace", "scope.rol"),
            (#""method":"token.create","params":{"tenant":"\#(tenant)","principal":"p","grants":["read"],"scope":{"taks":"t1"}}"#, "invalid_params", "scope.taks"),
        ]
        for (i, (body, reason, field)) in cases.enumerated() {
            try await raw.send(#"{"id":\#(i),"# + body + "}\n")
            let answer = try #require(try await raw.readJSON())
            #expect(answer["error"]?["data"]?["reason"] == .string(reason), "\(body)")
            #expect(answer["error"]?["data"]?["field"] == .string(field), "\(body)")
        }
        #expect(try await server.store.listNamespaces(try Scope(tenant: tenant)).isEmpty)
        let admin = try await server.client(admin: true)
        #expect(try await admin.listTokens(tenant: tenant).isEmpty)
        await admin.close()
        await raw.close()
        await server.stop()
    }

    @Test func idsComeBackAsTheSameJSONText() async throws {
        let server = try await TestServer()
        let raw = try await connect(server)
        let ids = [
            "-9223372036854775809", "9223372036854775808", "123456789012345678901234567890", "1.5", "1e-400", "-0", "2.50",
            #""x""#, #""\u0078""#, "null",
        ]
        for id in ids {
            // An answer, an error from a method, and an invalid request all carry it.
            for (body, answer) in [
                (#""method":"ping""#, #","result":{"pong":true}}"#),
                (#""method":"no.such""#, #","error":{"code":-32601"#),
                (#""method":"ping","jsonrpc":"1.0""#, #","error":{"code":-32600"#),
            ] {
                try await raw.send(#"{"id":\#(id),"# + body + "}\n")
                let line = try #require(try await raw.readLine())
                #expect(line.hasPrefix(#"{"jsonrpc":"2.0","id":\#(id)\#(answer)"#), "\(line)")
            }
        }
        // In a batch, each entry's own.
        try await raw.send("[" + ids.map { #"{"id":\#($0),"method":"ping"}"# }.joined(separator: ",") + "]\n")
        let batch = try #require(try await raw.readLine())
        #expect(batch == "[" + ids.map { #"{"jsonrpc":"2.0","id":\#($0),"result":{"pong":true}}"# }.joined(separator: ",") + "]")
        // Booleans, arrays and objects are no ids.
        try await raw.send(#"{"id":true,"method":"ping"}"# + "\n")
        let invalid = try #require(try await raw.readJSON())
        #expect(invalid["id"] == .null && invalid["error"]?["data"]?["reason"] == "invalid_request")
        await raw.close()
        await server.stop()
    }

    @Test func insertBelowLineMinusOneIsInvalidLine() async throws {
        let server = try await TestServer()
        let client = try await server.client(admin: true)
        let ns = try Namespace(tenant: uniqueTenant())
        try await client.createBlock(ns, label: "b", value: "one\ntwo")
        for line in [-2, -3, Int.min] {
            let error = await expectError(.invalidLine) { () throws(CairnError) in
                try await client.insert(ns, label: "b", text: "x", line: line)
            }
            #expect(error?.field == "line")
            #expect(error?.code == -32602)
        }
        #expect(try await client.insert(ns, label: "b", text: "end", line: -1).value == "one\ntwo\nend")
        #expect(try await client.block(ns, label: "b").version == 2)
        await client.close()
        await server.stop()
    }
}
