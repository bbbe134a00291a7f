import CairnCore
import CairnProtocol
import Testing

/// The method values of `CairnProtocol` (`RPC.Put`, …): each encodes what it decodes, keeps its
/// defaults on the type, and refuses bad params with the errors the server has always given.
@Suite struct RPCMethodTests {
    static func ns() throws -> Namespace { try Namespace(tenant: "t", task: "plan", role: "writer") }
    static func scope() throws -> Scope { try Scope(tenant: "t", task: .equals(Name("plan")), role: .absent) }

    /// Decodes `method.params` (as the server does) and expects the same call back.
    func roundTrips<M: RPCMethod>(_ method: M, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let decoded = try M(params: method.params)
        #expect(decoded == method, "\(M.name): \(method.params) → \(decoded.params)", sourceLocation: sourceLocation)
    }

    @Test func everyMethodRoundTripsWithEveryParamSet() throws {
        let ns = try Self.ns(), scope = try Self.scope()
        let request = try RequestID("r-1")
        let at = try #require(Timestamp(rfc3339: "2026-11-22T10:00:00.123Z"))
        try roundTrips(RPC.Ping())
        try roundTrips(RPC.Auth(token: "secret"))
        try roundTrips(RPC.TokenCreate(tenant: "t", principal: "bot", grants: ["read", "append"], task: "plan", role: "writer"))
        try roundTrips(RPC.TokenRevoke(tokenID: "tok-1"))
        try roundTrips(RPC.TokenList(tenant: "t"))
        try roundTrips(RPC.Put(ns, key: "k", value: ["a": [1, 2.5, "x", true, .null]], ifVersion: 0, reason: "why", agent: "a1", requestID: request))
        try roundTrips(RPC.Get(ns, key: "k", version: 3))
        try roundTrips(RPC.Delete(ns, key: "k", ifVersion: 2, reason: "why", agent: "a1", requestID: request))
        try roundTrips(
            try RPC.Search(scope, filter: ["status": "open", "score": ["$gte": 3, "$lt": 9], "meta.owner": ["$ne": "bob"]], query: "red fox", limit: 7, offset: 3))
        try roundTrips(RPC.ListNamespaces(scope, limit: 5, offset: 1))
        try roundTrips(RPC.History(ns, key: "k", limit: 3, beforeVersion: 9))
        try roundTrips(RPC.Log(scope, since: at, until: at, by: "admin", after: "1-0", limit: 2))
        try roundTrips(
            RPC.BlockCreate(
                ns, label: "persona", value: "hi", description: "d", limit: 99, readOnly: true, metadata: ["m": 1], agents: ["a1", "a2"],
                reason: "why", agent: "a1", requestID: request))
        try roundTrips(RPC.BlockGet(ns, label: "persona", version: 2))
        try roundTrips(
            RPC.BlockUpdate(
                ns, label: "persona", value: "v", description: "d", limit: 10, readOnly: false, metadata: ["m": 2], ifVersion: 4,
                reason: "why", agent: "a1", requestID: request))
        try roundTrips(RPC.BlockInsert(ns, label: "persona", text: "line", line: 0, reason: "why", agent: "a1", requestID: request))
        try roundTrips(RPC.BlockReplace(ns, label: "persona", old: "a", new: "", reason: "why", agent: "a1", requestID: request))
        try roundTrips(RPC.BlockRethink(ns, label: "persona", value: "all new", ifVersion: 5, reason: "why", agent: "a1", requestID: request))
        try roundTrips(RPC.BlockDelete(ns, label: "persona", ifVersion: 0, reason: "why", agent: "a1", requestID: request))
        try roundTrips(RPC.BlockList(scope, labelSearch: "pers", limit: 3, offset: 4))
        try roundTrips(RPC.BlockAttach(ns, label: "persona", agent: "a1", reason: "why", requestID: request))
        try roundTrips(RPC.BlockDetach(ns, label: "persona", agent: "a1", reason: "why", requestID: request))
        try roundTrips(RPC.BlockAgents(ns, label: "persona"))
        try roundTrips(RPC.AgentBlocks(tenant: "t", agent: "a1"))
        try roundTrips(RPC.AgentContext(tenant: "t", agent: "a1"))
        try roundTrips(RPC.Subscribe(scope, from: RPC.Cursor("1795315825626-3"), includeValues: true, coalesceMilliseconds: 250))
        try roundTrips(RPC.Unsubscribe("s1"))
    }

    @Test func defaultsLiveOnTheTypeAndAreLeftOutOfTheWire() throws {
        let scope = try Self.scope(), ns = try Self.ns()
        let search = try RPC.Search(params: ["scope": Wire.scope(scope)])
        #expect(search.limit == RPC.Search.defaultLimit && RPC.Search.defaultLimit == 10)
        #expect(search.offset == 0)
        #expect(Array(RPC.Search(scope).params.keys) == ["scope"])
        #expect(try RPC.ListNamespaces(params: ["scope": Wire.scope(scope)]).limit == 100)
        #expect(try RPC.History(params: ["ns": Wire.namespace(ns), "key": "k"]).limit == 20)
        #expect(try RPC.Log(params: ["scope": Wire.scope(scope)]).limit == 100)
        #expect(try RPC.BlockList(params: ["scope": Wire.scope(scope)]).limit == 50)
        let create = try RPC.BlockCreate(params: ["ns": Wire.namespace(ns), "label": "b"])
        #expect(create.limit == 5000 && create.value == "" && !create.readOnly && create.agents.isEmpty)
        #expect(Array(RPC.BlockCreate(ns, label: "b").params.keys) == ["ns", "label"])
        #expect(try RPC.BlockInsert(params: ["ns": Wire.namespace(ns), "label": "b", "text": "x"]).line == -1)
        let subscribe = try RPC.Subscribe(params: ["scope": Wire.scope(scope)])
        #expect(!subscribe.includeValues && subscribe.coalesceMilliseconds == 0 && subscribe.from == nil)
        // A value sent equal to its default decodes like an absent one.
        #expect(try RPC.Search(params: ["scope": Wire.scope(scope), "limit": 10]) == RPC.Search(scope))
        // null means absent, as the server has always read it.
        #expect(try RPC.Get(params: ["ns": Wire.namespace(ns), "key": "k", "version": .null]).version == nil)
    }

    @Test func methodValuesCompareByTheirBytes() throws {
        let ns = try Self.ns()
        // KELVIN SIGN is canonically equivalent to K, so `String` calls them equal; the wire does not.
        #expect("\u{212A}" == "K")
        #expect(RPC.Get(ns, key: "\u{212A}") != RPC.Get(ns, key: "K"))
        #expect(Set([RPC.Get(ns, key: "\u{212A}"), RPC.Get(ns, key: "K")]).count == 2)
        #expect(RPC.Get(ns, key: "K") == RPC.Get(ns, key: "K"))
    }

    @Test func paramsAreEncodedInTheirDeclaredOrder() throws {
        let put = RPC.Put(try Self.ns(), key: "k", value: 1, ifVersion: 1, reason: "r", agent: "a", requestID: try RequestID("x"))
        #expect(put.params.keys.map(\.string) == RPC.Put.paramNames.names)
    }

    /// The error `M(params:)` throws for `params`.
    func refusal<M: RPCMethod>(_ type: M.Type, _ params: JSONObject) -> CairnError? {
        do {
            _ = try M(params: params)
            return nil
        } catch {
            return error
        }
    }

    @Test func unknownParamsAreNamedWithWhatTheMethodTakes() throws {
        let ns = Wire.namespace(try Self.ns())
        let error = try #require(refusal(RPC.Put.self, ["ns": ns, "key": "k", "value": 1, "ifversion": 3]))
        #expect(error.reason == .invalidParams)
        #expect(error.field == "ifversion")
        #expect(error.message == #"put has no param "ifversion"; it takes ns, key, value, if_version, reason, agent, request_id"#)
        let ping = try #require(refusal(RPC.Ping.self, ["x": 1]))
        #expect(ping.message == #"ping has no param "x"; it takes no params"#)
        // Names compare by bytes: KELVIN SIGN is not K.
        #expect(refusal(RPC.Get.self, ["ns": ns, "\u{212A}ey": "k"])?.field == "\u{212A}ey")
        // Inside token.create's scope too.
        let scoped = try #require(refusal(RPC.TokenCreate.self, ["tenant": "t", "principal": "p", "grants": ["read"], "scope": ["tsak": "x"]]))
        #expect(scoped.field == "scope.tsak")
        #expect(scoped.message == #"token.create has no param "scope.tsak"; it takes task, role"#)
    }

    @Test func missingAndWrongTypedParamsGiveTheServersErrors() throws {
        let ns = Wire.namespace(try Self.ns())
        let cases: [(CairnError?, CairnError.Reason, String, String)] = [
            (refusal(RPC.Put.self, ["ns": ns, "value": 1]), .invalidParams, "key", "key is required"),
            (refusal(RPC.Put.self, ["ns": ns, "key": "k", "value": .null]), .invalidValue, "value", "value must not be null"),
            (refusal(RPC.Put.self, ["ns": ns, "key": "k", "value": 1, "if_version": "1"]), .invalidParams, "if_version", "if_version must be an integer"),
            (refusal(RPC.Put.self, ["ns": ns, "key": "k", "value": 1, "if_version": -1]), .invalidParams, "if_version", "if_version must be between 0 and \(Int.max)"),
            (refusal(RPC.Get.self, ["key": "k"]), .invalidParams, "ns", "ns is required"),
            (refusal(RPC.Get.self, ["ns": "t", "key": "k"]), .invalidNamespace, "ns", #"ns must be an object {"tenant","task","role"}"#),
            (refusal(RPC.Search.self, ["scope": ["tenant": "t"], "limit": 1001]), .invalidParams, "limit", "limit must be between 1 and 1000"),
            (refusal(RPC.Search.self, ["scope": ["tenant": "t"], "query": "  ?! "]), .invalidParams, "query", "query has no words to look for"),
            (refusal(RPC.BlockCreate.self, ["ns": ns, "label": "b", "read_only": 1]), .invalidParams, "read_only", "read_only must be true or false"),
            (refusal(RPC.BlockReplace.self, ["ns": ns, "label": "b", "old": "", "new": "x"]), .invalidParams, "old", "old must not be empty; use block.insert to add text"),
            (refusal(RPC.BlockReplace.self, ["ns": ns, "label": "b", "old": "a"]), .invalidParams, "new", #"new is required ("" deletes the text)"#),
            (refusal(RPC.TokenCreate.self, ["tenant": "t", "principal": "p", "grants": []]), .invalidParams, "grants", "grants must be a non-empty array of read, append, write, admin"),
            (refusal(RPC.TokenCreate.self, ["tenant": "t", "principal": "p", "grants": ["rule"]]), .invalidParams, "grants", #"unknown grant "rule"; use read, append, write or admin"#),
            (refusal(RPC.Subscribe.self, ["scope": ["tenant": "t"], "from": "soon"]), .invalidParams, "from", "from must be a cursor from an earlier event or subscribe answer"),
            (refusal(RPC.Subscribe.self, ["scope": ["tenant": "t"], "coalesce_ms": 60_001]), .invalidParams, "coalesce_ms", "coalesce_ms must be between 0 and 60000"),
            (refusal(RPC.Log.self, ["scope": ["tenant": "t"], "since": "yesterday"]), .invalidParams, "since", "since must be an RFC 3339 time like 2026-11-22T10:00:00.000Z"),
        ]
        for (error, reason, field, message) in cases {
            #expect(error?.reason == reason, "\(field): \(String(describing: error))")
            #expect(error?.field == field)
            #expect(error?.message == message)
        }
        // The first broken rule in the method's order is the one reported.
        #expect(refusal(RPC.Put.self, ["ns": ns, "key": "", "value": .null, "if_version": "x"])?.field == "key")
    }

    @Test func theMethodListIsComplete() {
        let names = RPC.all.map { $0.name }
        #expect(Set(names).count == names.count)
        #expect(names.count == 27)
        #expect(Set(RPC.all.filter { $0.isWrite }.map { $0.name }) == [
            "put", "delete", "block.create", "block.update", "block.insert", "block.replace", "block.rethink", "block.delete",
            "block.attach", "block.detach",
        ])
        #expect(Set(RPC.all.filter { !$0.needsIdentity }.map { $0.name }) == ["ping", "auth"])
    }

    @Test func filtersEncodeToAFormThatParsesToTheSameConditions() throws {
        let filter = try Filter(["status": "open", "score": ["$gte": 3, "$lt": 9], "meta.owner": ["$ne": "bob"]])
        #expect(try Filter(Wire.filter(filter)) == filter)
        #expect(Wire.filter(filter) == ["status": ["$eq": "open"], "score": ["$gte": 3, "$lt": 9], "meta.owner": ["$ne": "bob"]])
    }

    @Test func templatesGiveTheMethodsOwnBytes() throws {
        let ns = try Self.ns()
        let key = RequestTemplate.stringMarker("key"), value = RequestTemplate.stringMarker("value")
        let template = try RequestTemplate(
            RPC.Put(ns, key: key, value: .string(value), ifVersion: RequestTemplate.intMarker),
            slots: [.string(key), .string(value), .int(RequestTemplate.intMarker)])
        #expect(template.parts.count == 4)
        for n in [0, 7, 12_345] {
            let sample: JSONValue = ["n": .int(n), "s": "a \"quoted\" \u{1} value"]
            var whole: [UInt8] = []
            RPC.Put(ns, key: "k\(n)", value: sample, ifVersion: n % 3).request(id: n, into: &whole)
            #expect(template.request(id: n, filling: [.string("k\(n)"), sample, .int(n % 3)]) == whole)
        }
        // A marker that is not in the encoding (or is there twice) is refused.
        #expect(throws: CairnError.self) { try RequestTemplate(RPC.Get(ns, key: "k"), slots: [.string(key)]) }
        #expect(throws: CairnError.self) { try RequestTemplate(RPC.Get(ns, key: key), slots: [.string(key), .string(key)]) }
    }

    /// Reads what `encodeResult` wrote (as the server sends it) and expects the same result.
    func resultRoundTrips<M: RPCResultEncoding>(_ type: M.Type, _ result: M.Result, sourceLocation: SourceLocation = #_sourceLocation) throws
    where M.Result: Equatable {
        let decoded = try M.decodeResult(M.encodeResult(result))
        #expect(decoded == result, "\(M.name): \(M.encodeResult(result))", sourceLocation: sourceLocation)
    }

    @Test func everyEncodedResultReadsBackAsItWas() throws {
        let ns = try Self.ns()
        let at = Timestamp(millisecondsSince1970: 1_795_315_825_626)
        let item = Item(
            ns: ns, key: "k", kind: .item, value: ["a": [1, "x"]], version: 3, createdAt: at, updatedAt: at, updatedBy: "admin",
            agent: "a1", score: 1.5)
        let block = Item(
            ns: try Namespace(tenant: "t"), key: "persona", kind: .block, value: "I plan.", version: 2, createdAt: at, updatedAt: at,
            updatedBy: "bot", block: BlockProperties(description: "who", limit: 100, readOnly: true, metadata: ["m": 1]))
        try resultRoundTrips(RPC.Ping.self, true)
        try resultRoundTrips(RPC.Auth.self, SessionInfo(principal: "bot", tenant: "t", grants: ["read", "write"], task: "plan", role: nil))
        try resultRoundTrips(RPC.Auth.self, SessionInfo(principal: "admin", tenant: nil, grants: ["admin"], task: nil, role: nil))
        try resultRoundTrips(
            RPC.TokenList.self,
            [TokenInfo(tokenID: "tok-1", tenant: "t", principal: "bot", grants: ["read"], task: nil, role: "r", createdAt: "2026-11-22T10:00:00.000Z")])
        try resultRoundTrips(RPC.AgentBlocks.self, RPC.AgentBlocks.Answer(blocks: [block], omitted: 2))
        try resultRoundTrips(RPC.TokenCreate.self, CreatedToken(token: "secret", tokenID: "tok-1"))
        try resultRoundTrips(RPC.Put.self, PutResult(version: 4, createdAt: at, updatedAt: at))
        try resultRoundTrips(RPC.Get.self, item)
        try resultRoundTrips(RPC.Get.self, nil)
        try resultRoundTrips(RPC.Delete.self, DeleteResult(version: 5, existed: true))
        try resultRoundTrips(RPC.Search.self, [item, block])
        try resultRoundTrips(RPC.ListNamespaces.self, [ns, try Namespace(tenant: "t", role: "r")])
        try resultRoundTrips(
            RPC.History.self,
            [HistoryEntry(version: 2, op: .put, at: at, by: "admin", agent: "a1", reason: "why", value: ["v": 2]),
             HistoryEntry(version: 1, op: .delete, at: at, by: "admin", agent: nil, reason: nil, value: nil)])
        try resultRoundTrips(
            RPC.Log.self,
            [LogEntry(cursor: "1-0", ns: ns, key: "k", kind: .block, version: 1, op: .insert, at: at, by: "bot", agent: "a1", reason: "r")])
        try resultRoundTrips(RPC.BlockCreate.self, block)
        try resultRoundTrips(RPC.BlockGet.self, block)
        try resultRoundTrips(RPC.BlockUpdate.self, 7)
        try resultRoundTrips(RPC.BlockInsert.self, RPC.BlockEdit(version: 3, value: "a\nb"))
        try resultRoundTrips(RPC.BlockReplace.self, RPC.BlockEdit(version: 4, value: ""))
        try resultRoundTrips(RPC.BlockRethink.self, 8)
        try resultRoundTrips(RPC.BlockDelete.self, DeleteResult(version: 0, existed: false))
        try resultRoundTrips(RPC.BlockList.self, [block])
        try resultRoundTrips(RPC.BlockAgents.self, ["a1", "a2"])
        try resultRoundTrips(RPC.AgentContext.self, AgentContext(blocks: [block], rendered: "<memory/>", omitted: 1))
        try resultRoundTrips(RPC.Subscribe.self, Subscribed(subscription: "s1", cursor: "1795315825626-0"))
        // Answers with nothing in them are `{}`.
        #expect(RPC.Unsubscribe.encodeResult(()) == [:] && RPC.BlockAttach.encodeResult(()) == [:])
    }
}
