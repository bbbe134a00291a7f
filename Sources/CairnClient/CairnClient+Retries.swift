import CairnCore
import CairnProtocol
import Foundation

/// Request ids and retries of writes.
///
/// Every write (`put`, `delete`, every `block.*` that writes, `block.attach`/`detach`) is sent
/// with a `request_id` — a fresh UUID unless the params carry one — and is sent again with the
/// same id when the server answers `unavailable` (5003) or `outcome_unknown` (5004): the server
/// records the id in the write's own transaction and answers a replay with the first result,
/// so the write takes effect once. Reads are sent again after 5003. At most
/// `RetryPolicy.maxAttempts` sends, with jittered exponential back-off of at least the server's
/// `retry_after_ms`. A connection that breaks under a read or a write is replaced (same
/// token) and the request sent again, within the same attempts; other methods (`auth`,
/// `subscribe`, `token.*`) fail with `connection_failed`.
public struct RetryPolicy: Sendable, Hashable {
    /// Sends in all (1 = no retries).
    public var maxAttempts: Int
    /// The first back-off's upper bound; it doubles per attempt up to `maxDelay`.
    public var baseDelay: Duration
    public var maxDelay: Duration

    public init(maxAttempts: Int = 6, baseDelay: Duration = .milliseconds(50), maxDelay: Duration = .seconds(2)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// How long to wait before send number `attempt + 1` (full jitter).
    func delay(afterAttempt attempt: Int, retryAfterMs: Int?) -> Duration {
        let base = Double(baseDelay.components.seconds) * 1000 + Double(baseDelay.components.attoseconds) / 1e15
        let most = Double(maxDelay.components.seconds) * 1000 + Double(maxDelay.components.attoseconds) / 1e15
        let bound = min(most, base * Double(1 << min(attempt - 1, 20)))
        let ms = max(Double.random(in: 0...max(bound, 0)), Double(retryAfterMs ?? 0))
        return .milliseconds(Int64(ms))
    }
}

extension CairnClient {
    /// The methods that write, and so carry a request id.
    public static let writeMethods: Set<String> = Set(RPC.all.filter { $0.isWrite }.map { $0.name })

    /// Methods that only read: safe to send again. `token.list` reads too, though the server
    /// runs it alone (it is not `isReadOnly`).
    static let readMethods: Set<String> = Set(RPC.all.filter { $0.isReadOnly }.map { $0.name } + [RPC.TokenList.name])

    /// A fresh request id.
    public static func newRequestID() -> String { UUID().uuidString.lowercased() }

    /// `params` with a `request_id` when `method` writes and none was given.
    static func withRequestID(_ method: String, _ params: JSONValue) -> JSONValue {
        guard writeMethods.contains(method), case .object(var o) = params, o["request_id"] == nil || o["request_id"]?.isNull == true
        else { return params }
        o["request_id"] = .string(newRequestID())
        return .object(o)
    }

    /// Whether `method` may be sent again on a new connection after the old one broke.
    static func survivesReconnect(_ method: String) -> Bool {
        writeMethods.contains(method) || readMethods.contains(method)
    }

    /// Whether `error` from `method` may be answered by sending it again (with the same params).
    static func isRetryable(_ method: String, _ error: CairnError) -> Bool {
        switch error.reason {
        case .outcomeUnknown: writeMethods.contains(method)
        case .unavailable: writeMethods.contains(method) || readMethods.contains(method)
        default: false
        }
    }
}
