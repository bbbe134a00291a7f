import CairnCore
import CairnRedis

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
        return try await redisCall { connection -> [Item] in
            let reply = try connection.send(["ZRANGE", indexKey, "0", "-1", "WITHSCORES"]).checked()
            var candidates: [(ns: Namespace, key: String, updated: Int64)] = []
            let flat = reply.array ?? []
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
            if filter == nil && query == nil {
                candidates.sort { a, b in
                    if a.updated != b.updated { return a.updated > b.updated }
                    return Store.precedes(a.ns, a.key, b.ns, b.key)
                }
                let page = candidates.dropFirst(offset).prefix(limit)
                let items = try Store.readItems(connection, layout: layout, page.map { ($0.ns, $0.key) })
                return items.compactMap { $0 }
            }
            var matches: [Item] = []
            let chunk = 500
            var start = 0
            while start < candidates.count {
                let slice = candidates[start..<min(start + chunk, candidates.count)]
                start += chunk
                for case var item? in try Store.readItems(connection, layout: layout, slice.map { ($0.ns, $0.key) }) {
                    if let filter, !filter.matches(item.value) { continue }
                    if let query {
                        guard let score = query.score(Store.searchableStrings(item)) else { continue }
                        item.score = score
                    }
                    matches.append(item)
                }
            }
            matches.sort { a, b in
                if let sa = a.score, let sb = b.score, sa != sb { return sa > sb }
                if query == nil, a.updatedAt != b.updatedAt { return a.updatedAt > b.updatedAt }
                return Store.precedes(a.ns, a.key, b.ns, b.key)
            }
            return Array(matches.dropFirst(offset).prefix(limit))
        }
    }

    /// The namespaces in `scope` that hold at least one live item, sorted, then paged.
    public func listNamespaces(_ scope: Scope, limit: Int = 100, offset: Int = 0) async throws(CairnError) -> [Namespace] {
        try Store.checkPage(limit: limit, offset: offset)
        let indexKey = layout.index(scope.tenant)
        let layout = self.layout
        return try await redisCall { connection -> [Namespace] in
            let reply = try connection.send(["ZRANGE", indexKey, "0", "-1"]).checked()
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

    /// The strings a text query looks at: the value's string leaves; for a block also its label
    /// and description.
    static func searchableStrings(_ item: Item) -> [String] {
        var strings: [String] = []
        item.value.forEachString { strings.append($0) }
        if item.kind == .block {
            strings.append(item.key)
            if let d = item.block?.description { strings.append(d) }
        }
        return strings
    }

    /// Reads several items in one round trip; nil for those that are gone.
    static func readItems(_ connection: RedisConnection, layout: KeyLayout, _ addresses: [(Namespace, String)]) throws -> [Item?] {
        guard !addresses.isEmpty else { return [] }
        let replies = try connection.pipeline(addresses.map { ["HGETALL", layout.item($0.0, $0.1)] })
        return zip(addresses, replies).map { address, reply in
            StoredItem(fields: reply.fieldMap ?? [:]).item(ns: address.0, key: address.1)
        }
    }
}
