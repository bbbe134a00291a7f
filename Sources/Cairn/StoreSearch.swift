import CairnCore
import CairnRedis
import Foundation

/// One search hit before its item is read.
struct SearchMatch: Sendable {
    var ns: Namespace
    var key: String
    var updated: Int64
    var score: Double?
}

/// The most items `search`, `list_namespaces`, `history` and `log` return at once.
public let maximumPageSize = 1000

extension Store {
    /// Items in `scope` that pass `filter` and match `query`, ordered as the protocol says (by
    /// score with a query, else by `updated_at` newest first; ties by namespace, then key), then
    /// paged. Filter and query apply before paging, so pages concatenate to the full listing.
    public func search(
        _ scope: Scope, filter: Filter? = nil, query: TextQuery? = nil, limit: Int = 10, offset: Int = 0
    ) async throws(CairnError) -> [Item] {
        try Store.checkPage(limit: limit, offset: offset)
        let indexKey = layout.index(scope.tenant)
        let layout = self.layout
        if filter == nil && query == nil {
            // Order and page from the index alone; read only the page's items.
            return try await redisCall { connection -> [Item] in
                let flat = try await connection.send(["ZRANGE", indexKey, "0", "-1", "WITHSCORES"]).checked().array ?? []
                var candidates: [(ns: Namespace, key: String, updated: Int64)] = []
                candidates.reserveCapacity(flat.count / 2)
                var i = 0
                while i + 1 < flat.count {
                    if let member = flat[i].string, let (ns, key) = layout.decodeMember(member, tenant: scope.tenant),
                        scope.contains(ns), let score = flat[i + 1].string.flatMap(Double.init)
                    {
                        candidates.append((ns, key, Int64(score)))
                    }
                    i += 2
                }
                candidates.sort { a, b in
                    if a.updated != b.updated { return a.updated > b.updated }
                    return Store.precedes(a.ns, a.key, b.ns, b.key)
                }
                let page = candidates.dropFirst(offset).prefix(limit)
                return try await Store.readItems(connection, layout: layout, page.map { ($0.ns, $0.key) }).compactMap { $0 }
            }
        }
        // Filter and/or query: one HGETALL of the tenant's search documents gives every item's
        // value (and what ordering needs); keep the matches in scope, order them, then read the
        // page's items whole. A query looks at the value's string leaves; for a block also its
        // label and description.
        let documentsKey = layout.documents(scope.tenant)
        let flat = try await redisCall { connection in
            try await connection.send(["HGETALL", documentsKey]).checked().array ?? []
        }
        var matches = await Store.match(flat, scope: scope, layout: layout, filter: filter, query: query)
        matches.sort { a, b in
            if let sa = a.score, let sb = b.score, sa != sb { return sa > sb }
            if query == nil, a.updated != b.updated { return a.updated > b.updated }
            return Store.precedes(a.ns, a.key, b.ns, b.key)
        }
        let page = Array(matches.dropFirst(offset).prefix(limit))
        let items = try await redisCall { connection in
            try await Store.readItems(connection, layout: layout, page.map { ($0.ns, $0.key) })
        }
        return zip(page, items).compactMap { match, item in
            guard var item else { return nil }
            item.score = match.score
            return item
        }
    }

    /// The search documents (`HGETALL`'s flat field/value list) in `scope` that pass `filter`
    /// and match `query`. Decoding and matching 10,000 documents is CPU work: it is spread over
    /// child tasks on the global concurrent executor, never on the caller's event loop (a
    /// cairnd request's task prefers its connection's loop, and child tasks inherit that).
    static func match(
        _ flat: [RedisValue], scope: Scope, layout: KeyLayout, filter: Filter?, query: TextQuery?
    ) async -> [SearchMatch] {
        let pairs = flat.count / 2
        let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, pairs / 2000))
        let perPart = (pairs + parts - 1) / parts
        return await withTaskGroup(of: (Int, [SearchMatch]).self) { group in
            for part in 0..<parts {
                group.addTask(executorPreference: globalConcurrentExecutor) {
                    var found: [SearchMatch] = []
                    for pair in (part * perPart)..<min(pairs, (part + 1) * perPart) {
                        guard let member = flat[2 * pair].string,
                            let (ns, key) = layout.decodeMember(member, tenant: scope.tenant), scope.contains(ns),
                            let text = flat[2 * pair + 1].string, let document = SearchDocument.decode(text)
                        else { continue }
                        if let filter, !filter.matches(document.value) { continue }
                        var score: Double?
                        if let query {
                            var strings: [String] = []
                            document.value.forEachString { strings.append($0) }
                            if document.kind == .block {
                                strings.append(key)
                                if let d = document.description { strings.append(d) }
                            }
                            guard let s = query.score(strings) else { continue }
                            score = s
                        }
                        found.append(SearchMatch(ns: ns, key: key, updated: document.updatedMs, score: score))
                    }
                    return (part, found)
                }
            }
            var partial = [[SearchMatch]](repeating: [], count: parts)
            for await (part, found) in group { partial[part] = found }
            return partial.flatMap { $0 }
        }
    }

    /// The namespaces in `scope` that hold at least one live item, sorted, then paged.
    public func listNamespaces(_ scope: Scope, limit: Int = 100, offset: Int = 0) async throws(CairnError) -> [Namespace] {
        try Store.checkPage(limit: limit, offset: offset)
        let indexKey = layout.index(scope.tenant)
        let layout = self.layout
        return try await redisCall { connection -> [Namespace] in
            let reply = try await connection.send(["ZRANGE", indexKey, "0", "-1"]).checked()
            var found = Set<Namespace>()
            for member in reply.array ?? [] {
                if let m = member.string, let (ns, _) = layout.decodeMember(m, tenant: scope.tenant), scope.contains(ns) {
                    found.insert(ns)
                }
            }
            return Array(found.sorted().dropFirst(offset).prefix(limit))
        }
    }

    static func checkPage(limit: Int, offset: Int) throws(CairnError) {
        guard (1...maximumPageSize).contains(limit) else {
            throw CairnError.invalidParams("limit", "limit must be between 1 and \(maximumPageSize)")
        }
        guard offset >= 0 else { throw CairnError.invalidParams("offset", "offset must not be negative") }
    }

    /// Total order for ties: namespace, then key by code point.
    static func precedes(_ ns1: Namespace, _ key1: String, _ ns2: Namespace, _ key2: String) -> Bool {
        if ns1 != ns2 { return ns1 < ns2 }
        return key1.utf8.lexicographicallyPrecedes(key2.utf8)
    }

    /// Reads several items in one round trip; nil for those that are gone.
    static func readItems(_ connection: RedisChannelConnection, layout: KeyLayout, _ addresses: [(Namespace, String)]) async throws -> [Item?] {
        guard !addresses.isEmpty else { return [] }
        let replies = try await connection.pipeline(addresses.map { StoredItem.readAll(layout.item($0.0, $0.1)) })
        return zip(addresses, replies).map { address, reply in StoredItem(all: reply).item(ns: address.0, key: address.1) }
    }
}
