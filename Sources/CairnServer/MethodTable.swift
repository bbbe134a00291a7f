import Cairn
import CairnProtocol

/// One protocol method as the server runs it: what its `RPCMethod` type says (name, params,
/// identity, read-only) and its body.
struct Method: Sendable {
    var name: String
    /// Every `params` member the method defines. Any other member is refused before the method
    /// runs (`invalid_params` naming it), so that a misspelt `if_version` can never turn a
    /// compare-and-set into a blind write.
    var params: DeclaredParams
    var needsIdentity: Bool
    /// Writes nothing and changes no session state: consecutive read-only requests on one
    /// connection may run concurrently (see `CairnServer.answer`).
    var readOnly: Bool
    /// Decodes the params (already checked against `params`) into the method's value and runs
    /// the body. `Session.run` calls it after the identity check, so the order of errors is the
    /// protocol's: unknown params, then `unauthenticated`, then the params' values.
    var run: @Sendable (Session, Params) async throws(CairnError) -> JSONValue
}

/// Every method the server answers, by name. Each feature registers its methods' bodies in a
/// file of its own (`ItemMethods`, `SessionMethods`, …); what a method takes is its type's
/// (`RPC.Put`, …, in `CairnProtocol`).
struct MethodTable: Sendable {
    var methods: [String: Method] = [:]

    /// Answers `M` with `body`, given the decoded request and the session.
    mutating func register<M: RPCMethod>(
        _ type: M.Type, _ body: @escaping @Sendable (M, Session) async throws(CairnError) -> JSONValue
    ) {
        precondition(methods[M.name] == nil, "method \(M.name) registered twice")
        methods[M.name] = Method(
            name: M.name, params: M.paramNames, needsIdentity: M.needsIdentity, readOnly: M.isReadOnly
        ) { session, params throws(CairnError) in
            try await body(try M(checked: params), session)
        }
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
