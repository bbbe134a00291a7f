import Cairn
import CairnProtocol

/// `put`, `get`, `delete`, `search`, `list_namespaces`, `history`, `log`.
enum ItemMethods {
    static func register(in table: inout MethodTable) {
        table.add(
            "put",
            params: ["ns", "key", "value", "if_version", "reason", "agent", "request_id"]
        ) { session, params throws(CairnError) in
            let ns = try params.namespace()
            let key = try params.key("key")
            let value = try params.value("value")
            let ifVersion = try params.optionalInt("if_version", in: 0...Int.max)
            let attribution = try session.attribution(params)
            let request = try session.requestID(params)
            try session.caller.authorize(ns, anyOf: ifVersion == 0 ? [.append, .write] : [.write])
            let recorded = try await session.context.store.put(ns, key: key, value: value, ifVersion: ifVersion, by: attribution, request: request)
            let r = recorded.result
            return Wire.replayed(
                ["version": .int(r.version), "created_at": Wire.timestamp(r.createdAt), "updated_at": Wire.timestamp(r.updatedAt)],
                recorded.replayed)
        }

        table.add("get", params: ["ns", "key", "version"], readOnly: true) { session, params throws(CairnError) in
            let ns = try params.namespace()
            let key = try params.key("key")
            let version = try params.optionalInt("version", in: 1...Int.max)
            try session.caller.authorize(ns, anyOf: [.read])
            return try await session.context.store.get(ns, key: key, version: version).map(Wire.item) ?? .null
        }

        table.add(
            "delete",
            params: ["ns", "key", "if_version", "reason", "agent", "request_id"]
        ) { session, params throws(CairnError) in
            let ns = try params.namespace()
            let key = try params.key("key")
            let ifVersion = try params.optionalInt("if_version", in: 0...Int.max)
            let attribution = try session.attribution(params)
            let request = try session.requestID(params)
            try session.caller.authorize(ns, anyOf: [.write])
            let recorded = try await session.context.store.delete(ns, key: key, ifVersion: ifVersion, by: attribution, request: request)
            return Wire.replayed(["version": .int(recorded.result.version), "existed": .bool(recorded.result.existed)], recorded.replayed)
        }

        table.add(
            "search",
            params: ["scope", "filter", "query", "limit", "offset"], readOnly: true
        ) { session, params throws(CairnError) in
            let scope = try params.scope()
            let filter = try params.optionalValue("filter").map { v throws(CairnError) in try Filter(v) }
            var query: TextQuery?
            if let text = try params.optionalString("query") {
                guard let q = TextQuery(text) else { throw CairnError.invalidParams("query", "query has no words to look for") }
                query = q
            }
            let limit = try params.int("limit", default: 10, in: 1...maximumPageSize)
            let offset = try params.int("offset", default: 0, in: 0...Int.max)
            try session.caller.authorize(scope, anyOf: [.read])
            let items = try await session.context.store.search(scope, filter: filter, query: query, limit: limit, offset: offset)
            return ["items": .array(items.map(Wire.item))]
        }

        table.add("list_namespaces", params: ["scope", "limit", "offset"], readOnly: true) { session, params throws(CairnError) in
            let scope = try params.scope()
            let limit = try params.int("limit", default: 100, in: 1...maximumPageSize)
            let offset = try params.int("offset", default: 0, in: 0...Int.max)
            try session.caller.authorize(scope, anyOf: [.read])
            let list = try await session.context.store.listNamespaces(scope, limit: limit, offset: offset)
            return ["namespaces": .array(list.map(Wire.namespace))]
        }

        table.add(
            "history",
            params: ["ns", "key", "limit", "before_version"], readOnly: true
        ) { session, params throws(CairnError) in
            let ns = try params.namespace()
            let key = try params.key("key")
            let limit = try params.int("limit", default: 20, in: 1...maximumPageSize)
            let before = try params.optionalInt("before_version", in: 1...Int.max)
            try session.caller.authorize(ns, anyOf: [.read])
            let entries = try await session.context.store.history(ns, key: key, limit: limit, beforeVersion: before)
            return ["entries": .array(entries.map(Wire.history))]
        }

        table.add(
            "log",
            params: ["scope", "since", "until", "by", "after", "limit"], readOnly: true
        ) { session, params throws(CairnError) in
            let scope = try params.scope()
            let since = try params.optionalTimestamp("since")
            let until = try params.optionalTimestamp("until")
            let by = try params.optionalString("by")
            let after = try params.optionalString("after")
            let limit = try params.int("limit", default: 100, in: 1...maximumPageSize)
            try session.caller.authorize(scope, anyOf: [.read])
            let entries = try await session.context.store.log(scope, since: since, until: until, by: by, after: after, limit: limit)
            return ["entries": .array(entries.map(Wire.log))]
        }
    }
}
