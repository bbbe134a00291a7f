import CairnCore
import Foundation
import MCP
import Testing

@testable import CairnMCP

@Suite struct ToolArgumentTests {
    @Test func unknownArgumentsAreRejectedByName() {
        #expect {
            _ = try ToolArguments(["label": "notes", "ifversion": 3], allowed: ["label", "if_version"])
        } throws: { error in
            let e = error as? CairnError
            return e?.reason == .invalidParams && e?.field == "ifversion"
        }
    }

    @Test func argumentNamesCompareByBytes() {
        // A decomposed "é" is not the argument "é".
        #expect(throws: CairnError.self) { _ = try ToolArguments(["e\u{301}": 1], allowed: ["\u{E9}"]) }
    }

    @Test func typesAreChecked() throws {
        let a = try ToolArguments(["line": "3", "n": 2.0, "b": 1, "s": 5], allowed: ["line", "n", "b", "s"])
        #expect(throws: CairnError.self) { _ = try a.int("line") }
        #expect(try a.int("n") == 2)
        #expect(throws: CairnError.self) { _ = try a.bool("b") }
        #expect(throws: CairnError.self) { _ = try a.string("s") }
        #expect(throws: CairnError.self) { _ = try a.requiredString("missing") }
    }

    @Test func minimumsAreChecked() throws {
        let a = try ToolArguments(["line": -2, "if_version": 0], allowed: ["line", "if_version"])
        #expect(throws: CairnError.self) { _ = try a.int("line", minimum: -1) }
        #expect(throws: CairnError.self) { _ = try a.int("if_version", minimum: 1) }
        #expect(try a.int("if_version", minimum: 0) == 0)
    }

    @Test func nullCountsAsAbsent() throws {
        let a = try ToolArguments(["if_version": .null], allowed: ["if_version"])
        #expect(try a.int("if_version") == nil)
        #expect(!a.has("if_version"))
    }

    @Test func everyToolSchemaIsAClosedObject() {
        for tool in ToolCatalog.all {
            #expect(tool.inputSchema.objectValue?["type"] == "object", "\(tool.name)")
            #expect(tool.inputSchema.objectValue?["additionalProperties"] == false, "\(tool.name)")
            #expect((tool.description ?? "").count > 40, "\(tool.name) needs a description for the model")
        }
        #expect(Set(ToolCatalog.all.map(\.name)).count == 9)
    }
}

@Suite struct ToolErrorTests {
    @Test func theReasonComesFirstWithWhatToDo() {
        let text = ToolErrors.text(CairnError(.noMatch, "old text not found in block notes"))
        #expect(text.hasPrefix("no_match: old text not found in block notes."))
        #expect(text.contains("read the block again"))
    }

    @Test func versionConflictSaysTheCurrentVersion() {
        let text = ToolErrors.text(CairnError.versionConflict(current: 7, expected: 5))
        #expect(text.hasPrefix("version_conflict:"))
        #expect(text.contains("current version 7"))
    }

    @Test func structuredErrorCarriesReasonCodeAndData() {
        let json = ToolErrors.structured(CairnError(.limitExceeded, "too long", data: ["limit": 10, "requested": 12]))
        #expect(json["error"]?["reason"] == "limit_exceeded")
        #expect(json["error"]?["code"] == .int(4011))
        #expect(json["error"]?["data"]?["limit"] == .int(10))
        #expect(ToolErrors.text(CairnError(.limitExceeded, "too long", data: ["limit": 10, "requested": 12])).contains("(10 characters, asked for 12)"))
    }

    @Test func everyReasonHasAdvice() {
        for reason in CairnError.Reason.allCases {
            #expect(!ToolErrors.advice(CairnError(reason, "x")).isEmpty, "\(reason)")
        }
    }
}

@Suite struct JSONBridgeTests {
    @Test func valuesRoundTrip() throws {
        let json = try JSONValue(parsing: #"{"a":[1,2.5,"x",true,null,{"b":{}}],"c":-9}"#)
        #expect(JSONBridge.json(JSONBridge.value(json)).serialized() == json.serialized())
    }

    @Test func aDataURLStringStaysAString() {
        let v = Value.data(mimeType: "text/plain", Array("hi".utf8).withUnsafeBufferPointer { Foundation.Data($0) })
        #expect(JSONBridge.json(v).stringValue?.hasPrefix("data:text/plain") == true)
        #expect(JSONBridge.json(v).stringValue?.hasSuffix("base64,aGk=") == true)
    }
}

@Suite struct HTTPIdentityTests {
    @Test func queryNamesTheSession() throws {
        var c = MCPHTTPConfiguration(cairnURL: "cairn://127.0.0.1:7420", host: "127.0.0.1", port: 0)
        c.defaultRole = "writer"
        let s = try HTTPSessionIdentity.settings(path: "/mcp?agent=a%201&task=t", headers: [:], configuration: c, tokenTenant: "acme")
        #expect(s.agent == "a 1" && s.tenant == "acme" && s.task == "t" && s.role == "writer")
    }

    @Test func anAgentIsRequired() {
        let c = MCPHTTPConfiguration(cairnURL: "cairn://127.0.0.1:7420", host: "127.0.0.1", port: 0)
        #expect(throws: CairnError.self) { _ = try HTTPSessionIdentity.settings(path: "/mcp", headers: [:], configuration: c, tokenTenant: "acme") }
    }

    @Test func bearerTokens() {
        #expect(HTTPSessions.bearerToken(.init(method: "POST", headers: ["authorization": "Bearer abc"])) == "abc")
        #expect(HTTPSessions.bearerToken(.init(method: "POST", headers: ["Authorization": "Basic abc"])) == nil)
        #expect(HTTPSessions.bearerToken(.init(method: "POST", headers: [:])) == nil)
    }
}
