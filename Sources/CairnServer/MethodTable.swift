import Cairn
import CairnProtocol

/// One protocol method: its name, the params it defines, whether it needs an authenticated
/// caller, whether it only reads, and its body.
struct Method: Sendable {
    var name: String
    /// Every `params` member the method defines. Any other member is refused before the method
    /// runs (`invalid_params` naming it), so that a misspelt `if_version` can never turn a
    /// compare-and-set into a blind write. The body reads only these (`Params` enforces it).
    var params: DeclaredParams
    var needsIdentity: Bool
    /// Writes nothing and changes no session state: consecutive read-only requests on one
    /// connection may run concurrently (see `CairnServer.answer`).
    var readOnly: Bool
    var run: @Sendable (Session, Params) async throws(CairnError) -> JSONValue
}

/// Every method the server answers, by name. Each feature adds its methods in a file of its
/// own (`ItemMethods`, `SessionMethods`, …).
struct MethodTable: Sendable {
    var methods: [String: Method] = [:]

    mutating func add(
        _ name: String, params: [String], needsIdentity: Bool = true, readOnly: Bool = false,
        _ run: @escaping @Sendable (Session, Params) async throws(CairnError) -> JSONValue
    ) {
        precondition(methods[name] == nil, "method \(name) registered twice")
        methods[name] = Method(
            name: name, params: DeclaredParams(params), needsIdentity: needsIdentity, readOnly: readOnly, run: run)
    }

    /// Whether a line may run concurrently with the read-only lines around it: a request (or a
    /// batch whose every entry is one) of read-only methods. Anything else — writes, `auth`,
    /// subscriptions, tokens, unknown methods, invalid requests — runs alone, in order.
    func isReadOnly(_ incoming: RPCIncoming) -> Bool {
        switch incoming {
        case .invalid: return false
        case .single(let request): return isReadOnly(request)
        case .batch(let entries): return entries.allSatisfy(isReadOnly)
        }
    }

    private func isReadOnly(_ request: Result<RPCRequest, RPCFailure>) -> Bool {
        guard case .success(let request) = request else { return false }
        return methods[request.method]?.readOnly ?? false
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
