import Cairn
import CairnProtocol

/// `put`, `get`, `delete`, `search`, `list_namespaces`, `history`, `log`.
enum ItemMethods {
    static func register(in table: inout MethodTable) {
        table.register(RPC.Put.self) { put, session throws(CairnError) in
            try session.caller.authorize(put.ns, anyOf: put.ifVersion == 0 ? [.append, .write] : [.write])
            let recorded = try await session.context.store.put(
                put.ns, key: put.key, value: put.value, ifVersion: put.ifVersion,
                by: try session.attribution(agent: put.agent, reason: put.reason), request: put.requestID)
            return Wire.replayed(RPC.Put.encodeResult(recorded.result), recorded.replayed)
        }

        table.register(RPC.Get.self) { get, session throws(CairnError) in
            try session.caller.authorize(get.ns, anyOf: [.read])
            return RPC.Get.encodeResult(try await session.context.store.get(get.ns, key: get.key, version: get.version))
        }

        table.register(RPC.Delete.self) { delete, session throws(CairnError) in
            try session.caller.authorize(delete.ns, anyOf: [.write])
            let recorded = try await session.context.store.delete(
                delete.ns, key: delete.key, ifVersion: delete.ifVersion,
                by: try session.attribution(agent: delete.agent, reason: delete.reason), request: delete.requestID)
            return Wire.replayed(RPC.Delete.encodeResult(recorded.result), recorded.replayed)
        }

        table.register(RPC.Search.self) { search, session throws(CairnError) in
            try session.caller.authorize(search.scope, anyOf: [.read])
            let items = try await session.context.store.search(
                search.scope, filter: search.filter, query: search.query, limit: search.limit, offset: search.offset)
            return RPC.Search.encodeResult(items)
        }

        table.register(RPC.ListNamespaces.self) { list, session throws(CairnError) in
            try session.caller.authorize(list.scope, anyOf: [.read])
            let namespaces = try await session.context.store.listNamespaces(list.scope, limit: list.limit, offset: list.offset)
            return RPC.ListNamespaces.encodeResult(namespaces)
        }

        table.register(RPC.History.self) { history, session throws(CairnError) in
            try session.caller.authorize(history.ns, anyOf: [.read])
            let entries = try await session.context.store.history(
                history.ns, key: history.key, limit: history.limit, beforeVersion: history.beforeVersion)
            return RPC.History.encodeResult(entries)
        }

        table.register(RPC.Log.self) { log, session throws(CairnError) in
            try session.caller.authorize(log.scope, anyOf: [.read])
            let entries = try await session.context.store.log(
                log.scope, since: log.since, until: log.until, by: log.by, after: log.after, limit: log.limit)
            return RPC.Log.encodeResult(entries)
        }
    }
}
