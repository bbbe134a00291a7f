import CairnCore
import Synchronization

/// The bytes of events held unsent in subscription buffers, across every subscription of a
/// `ChangeFeed` (so across every connection of a server), against a limit.
///
/// A mailbox takes bytes from the budget when it queues an event and gives them back when the
/// event is taken out, thrown away, or the mailbox goes. An event handed straight to a waiting
/// reader is never counted: it is not buffered. The figure is an estimate of the heap the
/// queued events hold (their strings plus a fixed overhead), not a measurement.
public final class FeedBudget: Sendable {
    /// Most bytes all buffers together may hold.
    public let limit: Int
    private let used = Atomic<Int>(0)

    public init(limit: Int) { self.limit = limit }

    /// Bytes buffered right now.
    public var bytes: Int { used.load(ordering: .relaxed) }

    /// Takes `count` bytes when they fit under the limit; false (and nothing taken) when not.
    func take(_ count: Int) -> Bool {
        var current = used.load(ordering: .relaxed)
        while true {
            guard current + count <= limit else { return false }
            let (exchanged, original) = used.compareExchange(
                expected: current, desired: current + count, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    /// Takes `count` bytes whatever the limit (a mailbox's last message, which replaces more).
    func charge(_ count: Int) {
        used.add(count, ordering: .relaxed)
    }

    func release(_ count: Int) {
        guard count > 0 else { return }
        used.subtract(count, ordering: .relaxed)
    }
}

extension FeedMessage {
    /// Roughly what the message holds on the heap while queued: the strings of its event plus a
    /// fixed allowance for the enum, the struct and the string headers.
    var approximateBytes: Int {
        switch self {
        case .event(let e):
            let strings =
                e.cursor.utf8.count + e.key.utf8.count + e.by.utf8.count + (e.agent?.utf8.count ?? 0)
                + (e.reason?.utf8.count ?? 0) + e.ns.tenant.utf8.count + (e.ns.task?.utf8.count ?? 0)
                + (e.ns.role?.utf8.count ?? 0)
            return 192 + strings
        case .resync: return 64
        }
    }
}
