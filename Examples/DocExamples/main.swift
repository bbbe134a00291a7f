// The Swift examples of README.md and docs/*.md, compiled by every build so they cannot rot.
// `DocExampleTests` checks that each ```swift block of those files appears here line by line
// (indentation aside). Nothing here runs: it would need a Redis and would wait for events.
//
// README.md, "Use the store from Swift" (as top-level code, the way a script would hold it):
// Package.swift: .product(name: "Cairn", package: "Cairn")  (the store, in-process)
//            or  .product(name: "CairnClient", package: "Cairn")  (over the network)
import Cairn
import CairnRedis

let pool = RedisPool(configuration: try RedisConfiguration(url: "redis://127.0.0.1:6379/0", poolSize: 8))
let store = Store(redis: pool)           // StoreOptions(historyLimit:streamLength:maxValueBytes:…)

let ns = try Namespace(tenant: "acme", task: "task-42", role: "researcher")
let me = Attribution(principal: "alice", agent: "researcher-1", reason: "new finding")

let created = try await store.put(ns, key: "findings", value: ["count": 1], ifVersion: 0, by: me)
do {
    try await store.put(ns, key: "findings", value: ["count": 2], ifVersion: created.version, by: me)
} catch {
    guard error.reason == .versionConflict else { throw error }
    print("someone else wrote first; now at version", error.currentVersion!)
}
let open = try await store.search(
    try Scope(tenant: "acme", role: .equals("researcher")),
    filter: try Filter(["count": ["$gte": 2]]), query: TextQuery("findings"), limit: 10)

let notes = try await store.createBlock(ns, label: "notes", BlockDraft(value: ""), agents: ["researcher-1"], by: me)
let inserted = try await store.insertIntoBlock(ns, label: "notes", text: "- first finding", by: me)
print("notes went from version", notes.version, "to", inserted.version)
let context = try await store.agentContext(tenant: "acme", agent: "researcher-1")

let feed = ChangeFeed(store: store)
await feed.start()
for await message in try await feed.subscribe(try Scope(tenant: "acme")) { print(message) }
