import Synchronization

/// A count one task raises and another polls (with `eventually`): how a test waits for
/// progress instead of sleeping and hoping.
public final class SharedCounter: Sendable {
    private let count = Mutex(0)

    public init() {}

    public var value: Int { count.withLock { $0 } }

    public func increment() { count.withLock { $0 += 1 } }
}
