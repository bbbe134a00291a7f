import CairnCore
import CairnProtocol
import Testing

/// Request decoding and answering, without a server: ids come back as their exact JSON text,
/// and params hold only what a method declares.
@Suite struct RequestIDTests {
    /// The id text of the answer to `line` (a single request).
    func answeredID(_ line: String) throws -> String {
        guard case .single(.success(let request)) = RPCCoding.decode(line: Array(line.utf8)), let id = request.id else {
            throw CairnError(.internalError, "not a request with an id: \(line)")
        }
        var out: [UInt8] = []
        RPCCoding.result(id: id, ["pong": true], into: &out)
        let text = String(decoding: out, as: UTF8.self)
        let prefix = #"{"jsonrpc":"2.0","id":"#, suffix = #","result":{"pong":true}}"#
        #expect(text.hasPrefix(prefix) && text.hasSuffix(suffix), "\(text)")
        return String(text.dropFirst(prefix.count).dropLast(suffix.count))
    }

    @Test func everyNumberStringOrNullComesBackAsWritten() throws {
        for id in [
            "-9223372036854775809", "9223372036854775808", "123456789012345678901234567890", "1.5", "1e-400", "1E2",
            "-0", "0", "0.0", "-1.25e+3", "7", "-7", "9223372036854775807", #""x""#, #""\u0078""#, #""a\"b\\c""#, #""é""#,
            #""\ud83d\ude00""#, #""""#, "null",
        ] {
            #expect(try answeredID(#"{"jsonrpc":"2.0","id":\#(id),"method":"ping"}"#) == id)
            // Wherever the id stands, with white space around it, and after members holding "id".
            #expect(try answeredID(#" { "params" : {"id":1, "x":["id",{"id":2}]} , "id" :  \#(id) , "method":"ping" } "#) == id)
        }
    }

    @Test func theLastOfRepeatedIDsIsTheOne() throws {
        // The parser keeps the last of repeated members; the id text must be that one's.
        #expect(try answeredID(#"{"id":1.0,"method":"ping","id":2.50}"#) == "2.50")
        #expect(try answeredID(#"{"\u0069d":1.10,"method":"ping"}"#) == "1.10")
    }

    @Test func idsInBatchesComeBackAsWritten() throws {
        let line = #"[{"id":1.5,"method":"ping"}, 42, {"method":"ping"}, {"id":"\u0041","method":"ping","params":{"id":3}},{"id":-0,"method":"x"},{"id":1e-400}]"#
        guard case .batch(let entries) = RPCCoding.decode(line: Array(line.utf8)) else {
            Issue.record("not a batch")
            return
        }
        func text(_ id: RPCID) -> String {
            var out: [UInt8] = []
            id.write(to: &out)
            return String(decoding: out, as: UTF8.self)
        }
        #expect(entries.count == 6)
        #expect((try? entries[0].get()).flatMap(\.id).map(text) == "1.5")
        if case .failure(let failure) = entries[1] { #expect(text(failure.id) == "null") } else { Issue.record("42 accepted") }
        #expect((try? entries[2].get())?.isNotification == true)
        #expect((try? entries[3].get()).flatMap(\.id).map(text) == #""\u0041""#)
        #expect((try? entries[4].get()).flatMap(\.id).map(text) == "-0")
        if case .failure(let failure) = entries[5] { #expect(text(failure.id) == "1e-400") } else { Issue.record("no method accepted") }
    }

    @Test func otherIDsAreInvalidRequests() {
        for id in ["true", "false", "[1]", #"{"a":1}"#] {
            guard case .single(.failure(let failure)) = RPCCoding.decode(line: Array(#"{"id":\#(id),"method":"ping"}"#.utf8)) else {
                Issue.record("id \(id) accepted")
                continue
            }
            #expect(failure.error.reason == .invalidRequest)
            #expect(failure.id == .null)
        }
    }
}

@Suite struct DeclaredParamsTests {
    @Test func unknownMembersAreRefusedNamingTheFirst() {
        let declared: DeclaredParams = ["ns", "key", "if_version"]
        do {
            _ = try Params.checked(["ns": ["tenant": "t"], "ifversion": 1, "other": 2], declared: declared, method: "put")
            Issue.record("accepted")
        } catch {
            #expect(error.reason == .invalidParams)
            #expect(error.field == "ifversion")
            #expect(error.message.contains("if_version"))  // says what is accepted
        }
    }

    @Test func namesCompareByBytes() throws {
        // "K" (KELVIN SIGN) is canonically equivalent to "K" but another name.
        let declared: DeclaredParams = ["Key"]
        #expect(declared.contains("Key"))
        #expect(!declared.contains("\u{212A}ey"))
        #expect(declared.firstUnknown(in: ["\u{212A}ey": 1]) == "\u{212A}ey")
    }

    @Test func readingAnUndeclaredNameIsABug() throws {
        let params = try Params.checked(["a": 1], declared: ["a"], method: "m")
        #expect(try params.optionalInt("a") == 1)
        do {
            _ = try params.optionalInt("b")
            Issue.record("read an undeclared param")
        } catch {
            #expect(error.reason == .internalError)
        }
    }

    @Test func namespacesHaveOnlyTenantTaskAndRole() throws {
        let params = try Params.checked(["ns": ["tenant": "t", "taks": "x"]], declared: ["ns"], method: "get")
        do {
            _ = try params.namespace()
            Issue.record("accepted a misspelt task")
        } catch {
            #expect(error.reason == .invalidNamespace)
            #expect(error.field == "ns.taks")
        }
        let scoped = try Params.checked(["scope": ["tenant": "t", "rol": .null]], declared: ["scope"], method: "search")
        do {
            _ = try scoped.scope()
            Issue.record("accepted a misspelt role")
        } catch {
            #expect(error.field == "scope.rol")
        }
    }
}
