import CairnCore
import CairnTestSupport
import Testing

@testable import Cairn

/// `Store.values(at:)`: the value each logged event's item had at its version, read as one
/// consistent snapshot per item however many writes landed since.
@Suite struct EventValueTests {
    @Test func everyVersionInTheKeptHistoryIsFoundOthersAreNull() async throws {
        let store = TestRedis.store(StoreOptions(historyLimit: 120))
        let ns = try Namespace(tenant: uniqueTenant())
        for n in 1...150 { try await store.put(ns, key: "k", value: .int(n), by: alice) }
        try await store.delete(ns, key: "k", by: alice)
        try await store.put(ns, key: "other", value: "o", by: alice)
        let log = try await store.log(try Scope(tenant: ns.tenant), limit: 1000)
        #expect(log.count == 152)
        // Old events (far more writes since than one snapshot's slack), the newest, the delete,
        // and another item, in one call.
        let wanted = Array(log.prefix(40)) + Array(log.suffix(12))
        let values = try await store.values(at: wanted)
        for (event, value) in zip(wanted, values) {
            switch (event.key.string, event.op) {
            case ("other", _): #expect(value == "o")
            case (_, .delete): #expect(value == .null)
            default:
                // 151 versions (150 puts, the delete); the newest 120 are kept, so 32 and above.
                let expected: JSONValue = event.version >= 151 - 119 ? .int(event.version) : .null
                #expect(value == expected, "version \(event.version)")
            }
        }
        #expect(values.filter { $0 != .null }.count == 9 + 10 + 1)  // versions 32…40 and 141…150 of k, and other
        // Only old events: the first snapshot (their span and some slack) is too shallow for
        // them, and the deeper second one finds those still kept.
        let old = try await store.values(at: Array(log[30..<40]))
        #expect(old == [.null] + (32...40).map { JSONValue.int($0) })  // versions 31…40
    }
}
