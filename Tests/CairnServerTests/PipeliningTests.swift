import Cairn
import CairnProtocol
import CairnRedis
@testable import CairnServer
import CairnTestSupport
import Foundation
import Testing

/// Requests pipelined on one connection: consecutive read-only ones run concurrently, anything
/// else runs alone, and every answer comes back in request order.
@Suite struct PipeliningTests {
    /// A raw connection, its `hello` read, authenticated with `token` when given.
    func connect(_ server: TestServer, token: String? = nil) async throws -> RawLineClient {
        let raw = try await RawLineClient(port: server.port)
        #expect(try await raw.readJSON()?["method"] == "hello")
        if let token {
            try await raw.send(#"{"id":"auth","method":"auth","params":{"token":"\#(token)"}}"# + "\n")
            #expect(try await raw.readJSON()?["result"] != nil)
        }
        return raw
    }

    func get(_ id: Int, _ tenant: String, _ key: String) -> String {
        #"{"jsonrpc":"2.0","id":\#(id),"method":"get","params":{"ns":{"tenant":"\#(tenant)"},"key":"\#(key)"}}"# + "\n"
    }

    func put(_ id: Int, _ tenant: String, _ key: String, _ value: Int) -> String {
        #"{"jsonrpc":"2.0","id":\#(id),"method":"put","params":{"ns":{"tenant":"\#(tenant)"},"key":"\#(key)","value":\#(value)}}"# + "\n"
    }

    @Test func manyPipelinedGetsRunConcurrentlyAndAnswerInOrder() async throws {
        let server = try await TestServer()
        let tenant = uniqueTenant()
        let ns = try Namespace(tenant: tenant)
        let count = 300
        for i in 0..<count where i % 3 != 0 {  // every third key is absent
            try await server.store.put(ns, key: "k\(i)", value: .int(i * 7), by: alice)
        }
        let raw = try await connect(server, token: server.adminToken)
        #expect(server.server.peakRequestsInFlightPerConnection == 1)  // the auth, alone
        try await raw.send((0..<count).map { get($0, tenant, "k\($0)") }.joined())  // one burst
        for i in 0..<count {
            let answer = try #require(try await raw.readJSON())
            #expect(answer["id"] == .int(i))
            #expect(answer["error"] == nil)
            #expect(answer["result"]?["value"] == (i % 3 == 0 ? nil : .int(i * 7)), "get \(i)")
            if answer["id"] != .int(i) { break }
        }
        // They ran concurrently: more than one was in flight at once (and never more than the
        // bound), not one after another.
        let peak = server.server.peakRequestsInFlightPerConnection
        #expect(peak > 1)
        #expect(peak <= CairnServer.maxRequestsInFlightPerConnection)
        // The connection goes on as usual.
        try await raw.send(#"{"id":"p","method":"ping"}"# + "\n")
        #expect(try await raw.readJSON()?["id"] == "p")
        await raw.close()
        await server.stop()
    }

    @Test func aWriteBetweenPipelinedReadsSplitsThem() async throws {
        let server = try await TestServer()
        let tenant = uniqueTenant()
        let raw = try await connect(server, token: server.adminToken)
        // Reads of an absent key, a put, reads, a second put, reads: all in one burst.
        var text = ""
        for i in 0..<20 { text += get(i, tenant, "k") }
        text += put(20, tenant, "k", 1)
        for i in 21..<40 { text += get(i, tenant, "k") }
        text += put(40, tenant, "k", 2)
        for i in 41..<60 { text += get(i, tenant, "k") }
        try await raw.send(text)
        for i in 0..<60 {
            let answer = try #require(try await raw.readJSON())
            #expect(answer["id"] == .int(i))
            switch i {
            case 20, 40: #expect(answer["result"]?["version"] == .int(i / 20))
            case ..<20: #expect(answer["result"] == .null, "get \(i) ran before the first put: nothing to see")
            case ..<40: #expect(answer["result"]?["value"] == 1, "get \(i) ran after the first put, before the second")
            default: #expect(answer["result"]?["value"] == 2, "get \(i) ran after the second put")
            }
        }
        await raw.close()
        await server.stop()
    }

    @Test func authInTheMiddleOfABurstAppliesOnlyToLaterRequests() async throws {
        let server = try await TestServer()
        let tenant = uniqueTenant()
        try await server.store.put(try Namespace(tenant: tenant), key: "k", value: "v", by: alice)
        let token = try await server.token(tenant: tenant, grants: ["read"])
        let raw = try await connect(server)
        var text = ""
        for i in 0..<10 { text += get(i, tenant, "k") }
        text += #"{"id":10,"method":"ping"}"# + "\n"
        text += #"{"id":11,"method":"auth","params":{"token":"\#(token)"}}"# + "\n"
        for i in 12..<22 { text += get(i, tenant, "k") }
        text += #"{"id":22,"method":"auth","params":{"token":"not-a-token"}}"# + "\n"
        for i in 23..<30 { text += get(i, tenant, "k") }
        try await raw.send(text)
        for i in 0..<30 {
            let answer = try #require(try await raw.readJSON())
            #expect(answer["id"] == .int(i))
            switch i {
            case 10: #expect(answer["result"]?["pong"] == true)
            case 11: #expect(answer["result"]?["tenant"] == .string(tenant))
            case 12..<22: #expect(answer["result"]?["value"] == "v", "get \(i) comes after the auth")
            case 22: #expect(answer["error"]?["data"]?["reason"] == "unauthenticated")
            default: #expect(answer["error"]?["data"]?["reason"] == "unauthenticated", "get \(i) is outside the auth")
            }
        }
        await raw.close()
        await server.stop()
    }

    @Test func aSubscribeAnswerInABurstComesBeforeItsFirstEvent() async throws {
        let server = try await TestServer()
        let tenant = uniqueTenant()
        let raw = try await connect(server, token: server.adminToken)
        var text = ""
        for i in 0..<5 { text += get(i, tenant, "k") }
        text += #"{"id":5,"method":"subscribe","params":{"scope":{"tenant":"\#(tenant)"}}}"# + "\n"
        text += put(6, tenant, "k", 1)
        for i in 7..<12 { text += get(i, tenant, "k") }
        try await raw.send(text)
        var answers: [JSONValue] = []
        var sawEvent = false
        while answers.count < 12 || !sawEvent {
            let line = try #require(try await raw.readJSON())
            if line["method"] == "event" {
                #expect(answers.count >= 6, "the event came before the subscribe answer")
                #expect(line["params"]?["version"] == 1)
                sawEvent = true
            } else {
                #expect(line["id"] == .int(answers.count))
                answers.append(line)
            }
        }
        #expect(answers[5]["result"]?["subscription"] != nil)
        #expect(answers[11]["result"]?["value"] == 1)
        await raw.close()
        await server.stop()
    }

    @Test func gracefulShutdownAnswersPipelinedReadsInFlight() async throws {
        // A private Redis: the test holds it still, which must not stall anyone else's tests.
        try await TestRedis.withPrivateServer { redis in
            let pool = RedisPool(configuration: try RedisConfiguration(url: redis.url, poolSize: 4))
            let server = try await TestServer(pool: pool)
            let tenant = uniqueTenant()
            let ns = try Namespace(tenant: tenant)
            let count = 20
            for i in 0..<count { try await server.store.put(ns, key: "k\(i)", value: .int(i), by: alice) }
            let raw = try await connect(server, token: server.adminToken)
            try await redis.whileFrozen {
                // Redis holds every command until it thaws: the reads are surely in flight.
                try await raw.send((0..<count).map { get($0, tenant, "k\($0)") }.joined())
                await eventually { server.server.peakRequestsInFlightPerConnection >= count }
                #expect(server.server.requestsInFlight == 1)  // one connection, busy
                server.server.beginGracefulShutdown()
            }
            for i in 0..<count {
                let answer = try #require(try await raw.readJSON())
                #expect(answer["id"] == .int(i))
                #expect(answer["result"]?["value"] == .int(i))
            }
            #expect(try await raw.readLine() == nil)  // and then the connection closes
            await server.stop()
            await pool.shutdown()
        }
    }

    @Test func onlyReadsRunConcurrently() throws {
        let table = MethodTable.standard
        let readOnly = Set(table.methods.values.filter(\.readOnly).map(\.name))
        #expect(
            readOnly == [
                "ping", "get", "search", "list_namespaces", "history", "log", "block.get", "block.list", "block.agents",
                "agent.blocks", "agent.context",
            ])
        func classify(_ line: String) -> Bool { table.isReadOnly(RPCCoding.decode(line: Array(line.utf8))) }
        #expect(classify(#"{"id":1,"method":"get","params":{}}"#))
        #expect(classify(#"{"method":"get"}"#))  // a notification too
        #expect(classify(#"[{"id":1,"method":"get"},{"id":2,"method":"search"}]"#))
        #expect(!classify(#"[{"id":1,"method":"get"},{"id":2,"method":"put"}]"#))  // a batch with a write
        #expect(!classify(#"[{"id":1,"method":"get"},42]"#))  // a batch with an invalid entry
        #expect(!classify(#"{"id":1,"method":"auth"}"#))
        #expect(!classify(#"{"id":1,"method":"subscribe"}"#))
        #expect(!classify(#"{"id":1,"method":"token.list"}"#))
        #expect(!classify(#"{"id":1,"method":"no.such.method"}"#))
        #expect(!classify(#"{"id":1}"#))
        #expect(!classify("not json"))
    }
}
