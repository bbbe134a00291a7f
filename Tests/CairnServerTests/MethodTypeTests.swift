import Cairn
import CairnProtocol
@testable import CairnServer
import CairnTestSupport
import Testing

/// The server's method table is the protocol's method types: every type registered, with the
/// type's name, params, identity and read-only flags; and the numbers and names the types check
/// params against are the store's and the server's own.
@Suite struct MethodTypeTests {
    @Test func everyMethodTypeIsRegisteredAsItsTypeSays() {
        let table = MethodTable.standard
        #expect(Set(table.methods.keys) == Set(RPC.all.map { $0.name }))
        for type in RPC.all {
            let method = table.methods[type.name]
            #expect(method?.params == type.paramNames, "\(type.name)")
            #expect(method?.needsIdentity == type.needsIdentity, "\(type.name)")
            #expect(method?.readOnly == type.isReadOnly, "\(type.name)")
        }
    }

    @Test func paramLimitsAreTheStores() {
        #expect(ParamLimits.maximumPageSize == maximumPageSize)
        #expect(ParamLimits.maximumBlockLimit == maximumBlockLimit)
    }

    @Test func grantNamesAreTheServersGrants() {
        #expect(RPC.TokenCreate.grantNames == Grant.allCases.map(\.rawValue))
    }

    @Test func cursorsReadAndWriteAsTheStoresDo() throws {
        for text in ["0-0", "1795315825626-3", "18446744073709551615-18446744073709551615"] {
            let wire = try #require(RPC.Cursor(text))
            let store = try #require(StreamCursor(text))
            #expect(wire.milliseconds == store.milliseconds && wire.sequence == store.sequence)
            #expect(wire.description == store.description)
        }
        for text in ["", "1", "1-", "-1", "a-b", "1-2-3", "18446744073709551616-0"] {
            #expect((RPC.Cursor(text) == nil) == (StreamCursor(text) == nil), "\(text)")
        }
    }

    /// Unknown params are refused before the identity is looked at; the params' values only
    /// after it (decoding a method value waits for `checkIdentity`).
    @Test func paramValuesAreCheckedAfterTheIdentity() async throws {
        let server = try await TestServer()
        let anonymous = try await RawLineClient(port: server.port)
        _ = try await anonymous.readJSON()
        try await anonymous.send(#"{"id":1,"method":"put","params":{"ns":{"tenant":"t"},"key":"","value":null}}"# + "\n")
        #expect(try await anonymous.readJSON()?["error"]?["data"]?["reason"] == "unauthenticated")
        try await anonymous.send(#"{"id":2,"method":"put","params":{"ns":{"tenant":"t"},"key":"","value":null,"x":1}}"# + "\n")
        #expect(try await anonymous.readJSON()?["error"]?["data"]?["field"] == "x")
        await anonymous.close()
        await server.stop()
    }
}
