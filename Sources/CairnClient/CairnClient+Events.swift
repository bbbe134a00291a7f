import CairnCore
import CairnProtocol

extension CairnClient {
    /// Subscribes to writes in `scope` (after `from`, or from now). Events arrive on
    /// `notifications` as `event` (or, with `coalesceMilliseconds`, `events`) notifications,
    /// tagged with the returned subscription id; `resync` when some may have been missed.
    public func subscribe(
        _ scope: Scope, from: String? = nil, includeValues: Bool = false, coalesceMilliseconds: Int? = nil
    ) async throws(CairnError) -> (subscription: String, cursor: String) {
        let cursor = try from.map { text throws(CairnError) in try RPC.Subscribe.cursor(text) }
        let subscribed = try await send(
            RPC.Subscribe(scope, from: cursor, includeValues: includeValues, coalesceMilliseconds: coalesceMilliseconds ?? 0))
        return (subscribed.subscription, subscribed.cursor)
    }

    public func unsubscribe(_ subscription: String) async throws(CairnError) {
        try await send(RPC.Unsubscribe(subscription))
    }
}
