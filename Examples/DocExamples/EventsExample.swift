import Cairn

/// docs/events.md, "In Swift, without a server": `store` is the one the README's example makes.
func eventsExample(store: Store) async throws {
    let feed = ChangeFeed(store: store)          // one pub/sub connection for the process
    await feed.start()                           // enables keyspace notifications; returns a log line
    let subscription = try await feed.subscribe(try Scope(tenant: "acme"), from: nil)
    for await message in subscription {
        switch message {
        case .event(let entry): print(entry.cursor, entry.op, entry.key, entry.version)
        case .resync(let cause, let cursor): print("re-read:", cause.explanation(cursor: cursor))
        }
    }
    subscription.cancel()                        // or leave the loop and drop it
}
