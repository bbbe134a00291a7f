import CairnCore
import CairnProtocol

extension CairnClient {
    /// Subscribes to writes in `scope` (after `from`, or from now). Events arrive on
    /// `notifications` as `event` (or, with `coalesceMilliseconds`, `events`) notifications,
    /// tagged with the returned subscription id; `resync` when some may have been missed.
    public func subscribe(
        _ scope: Scope, from: String? = nil, includeValues: Bool = false, coalesceMilliseconds: Int? = nil
    ) async throws(CairnError) -> (subscription: String, cursor: String) {
        let r = try await call(
            "subscribe",
            Self.params([
                "scope": Wire.scope(scope), "from": from.map(JSONValue.string),
                "include_values": includeValues ? .bool(true) : nil, "coalesce_ms": coalesceMilliseconds.map(JSONValue.int),
            ]))
        return (r["subscription"]?.stringValue ?? "", r["cursor"]?.stringValue ?? "")
    }

    public func unsubscribe(_ subscription: String) async throws(CairnError) {
        _ = try await call("unsubscribe", ["subscription": .string(subscription)])
    }
}
