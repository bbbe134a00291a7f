import Cairn
import CairnProtocol

/// One protocol method: its name, whether it needs an authenticated caller, and its body.
struct Method: Sendable {
    var name: String
    var needsIdentity: Bool
    var run: @Sendable (Session, Params) async throws(CairnError) -> JSONValue
}

/// Every method the server answers, by name. Each feature adds its methods in a file of its
/// own (`ItemMethods`, `SessionMethods`, …).
struct MethodTable: Sendable {
    var methods: [String: Method] = [:]

    mutating func add(_ name: String, needsIdentity: Bool = true, _ run: @escaping @Sendable (Session, Params) async throws(CairnError) -> JSONValue) {
        methods[name] = Method(name: name, needsIdentity: needsIdentity, run: run)
    }

    static let standard: MethodTable = {
        var table = MethodTable()
        SessionMethods.register(in: &table)
        ItemMethods.register(in: &table)
        BlockMethods.register(in: &table)
        EventMethods.register(in: &table)
        return table
    }()
}
