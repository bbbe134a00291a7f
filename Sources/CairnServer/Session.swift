import Cairn
import CairnProtocol
import Logging
import NIOCore

/// One connection's state: who it is, and how it answers a line. Used only isolated to the
/// connection's `ConnectionActor`. Consecutive read-only requests (`Method.readOnly`) may run
/// concurrently, interleaving at their suspension points: they change nothing here but clear
/// `identity` when they find its token revoked. Every other request runs alone, after every
/// earlier one was answered and before any later one starts (`CairnServer.answer`).
final class Session {
    let context: ServerContext
    let logger: Logger
    /// Who the connection acts as; nil until `auth` (unless auth is off).
    var identity: Identity? {
        didSet {
            if identity != nil {
                authDeadline.met()
            } else if oldValue != nil {
                authDeadline.rearm()  // revoked, or replaced by a failed auth
            }
        }
    }
    /// How long the connection has left to authenticate (armed by `startAuthDeadline`).
    let authDeadline = AuthDeadline()
    /// Where notifications (events) are written, between responses.
    let output: NIOAsyncChannelOutboundWriter<ByteBuffer>
    /// The connection's subscriptions, shared with their forwarding tasks.
    let subscriptions = ConnectionSubscriptions()
    var subscriptionCounter = 0
    /// Work to start once the current response is written (a subscription's first event must
    /// not overtake the `subscribe` answer).
    var afterResponse: [() -> Void] = []

    init(context: ServerContext, logger: Logger, output: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.context = context
        self.logger = logger
        self.output = output
        if context.configuration.auth == .none { identity = .serverAdmin(principal: "anonymous") }
    }

    /// Called after each response (or nothing) was written for a line.
    func responseWritten() {
        let work = afterResponse
        afterResponse.removeAll()
        for start in work { start() }
    }

    /// Arms the authentication deadline when auth is required and nobody is authenticated yet.
    func startAuthDeadline(on channel: any Channel) {
        guard context.configuration.auth == .required, identity == nil else { return }
        authDeadline.arm(on: channel, milliseconds: context.configuration.authTimeoutMilliseconds, logger: logger)
    }

    /// The connection is closing: end its subscriptions (and its authentication deadline).
    func close() {
        authDeadline.end()
        subscriptions.cancelAll()
        afterResponse.removeAll()
    }

    func hello() -> [UInt8] {
        var out: [UInt8] = []
        let params: JSONValue = [
            "server": "cairn", "version": .string(ProtocolInfo.serverVersion), "protocol": .int(ProtocolInfo.protocolVersion),
            "auth": .string(context.configuration.auth.rawValue), "max_line_bytes": .int(context.configuration.maxLineBytes),
            // With auth none there is no deadline.
            "auth_timeout_ms": context.configuration.auth == .required ? .int(context.configuration.authTimeoutMilliseconds) : .null,
            "features": .array(ServerFeatures.announced(by: context).map(JSONValue.string)),
            "request_id_retention_ms": .int(context.store.options.requestIDRetentionMs),
        ]
        RPCCoding.notification(method: "hello", params, into: &out)
        out.append(UInt8(ascii: "\n"))
        return out
    }

    func lineTooLong() -> [UInt8] {
        logger.warning("line longer than \(context.configuration.maxLineBytes) bytes: closing")
        var out: [UInt8] = []
        RPCCoding.error(
            id: .null,
            CairnError(.lineTooLong, "the line is longer than \(context.configuration.maxLineBytes) bytes; the connection is closed"),
            into: &out)
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// The answer to one line (decoded), newline included; nil when nothing is to be sent
    /// (notifications).
    func handle(_ incoming: RPCIncoming) async -> [UInt8]? {
        var out: [UInt8] = []
        switch incoming {
        case .invalid(let failure):
            RPCCoding.error(id: failure.id, failure.error, into: &out)
        case .single(let parsed):
            guard await answer(parsed, into: &out) else { return nil }
        case .batch(let entries):
            out.append(UInt8(ascii: "["))
            var any = false
            for entry in entries {
                var one: [UInt8] = []
                guard await answer(entry, into: &one) else { continue }
                if any { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: one)
                any = true
            }
            guard any else { return nil }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// Runs one request and writes its response; false when there is none (a notification).
    private func answer(_ parsed: Result<RPCRequest, RPCFailure>, into out: inout [UInt8]) async -> Bool {
        switch parsed {
        case .failure(let failure):
            RPCCoding.error(id: failure.id, failure.error, into: &out)
            return true
        case .success(let request):
            let result = await run(request)
            guard let id = request.id else { return false }
            switch result {
            case .success(let value): RPCCoding.result(id: id, value, into: &out)
            case .failure(let error): RPCCoding.error(id: id, error, into: &out)
            }
            return true
        }
    }

    func run(_ request: RPCRequest) async -> Result<JSONValue, CairnError> {
        let started = ContinuousClock.now
        guard let method = context.methods.methods[request.method] else {
            context.metrics.record(method: "unknown", outcome: CairnError.Reason.methodNotFound.rawValue, duration: .zero)
            return .failure(
                CairnError(.methodNotFound, "unknown method \(request.method.debugDescription)", data: ["method": .string(request.method)]))
        }
        let result: Result<JSONValue, CairnError>
        do throws(CairnError) {
            // Unknown params are refused first: before the identity is checked, and before
            // anything runs.
            let params = try Params.checked(request.params, declared: method.params, method: method.name)
            if method.needsIdentity { try await checkIdentity() }
            result = .success(try await method.run(self, params))
        } catch {
            result = .failure(error)
        }
        let outcome: String
        switch result {
        case .success: outcome = "ok"
        case .failure(let error):
            outcome = error.reason.rawValue
            switch error.reason {
            case .internalError:
                logger.error("internal error in \(request.method) (request id \(request.id?.description ?? "none")): \(error.message)")
            case .unavailable, .outcomeUnknown:
                context.metrics.redisErrors.increment()
                logger.warning("\(request.method) failed: \(error.message)")
            default: break
            }
        }
        context.metrics.record(method: method.name, outcome: outcome, duration: ContinuousClock.now - started)
        return result
    }

    /// The request's identity, checked again against Redis when it is a stored token, so that a
    /// revoked token fails on its very next request on every connection.
    @discardableResult
    func checkIdentity() async throws(CairnError) -> Identity {
        guard let identity else {
            throw CairnError(.unauthenticated, "authenticate first: {\"method\":\"auth\",\"params\":{\"token\":\"…\"}}")
        }
        if let hash = identity.tokenHash,
            try await !context.tokens.isValid(hash: hash, generation: context.feed.listeningGeneration)
        {
            self.identity = nil
            throw CairnError(.unauthenticated, "the token was revoked; authenticate with another one")
        }
        return identity
    }

    /// The current identity (after `checkIdentity` ran for this request).
    var caller: Identity {
        get throws(CairnError) {
            guard let identity else { throw CairnError(.unauthenticated, "authenticate first") }
            return identity
        }
    }

    /// The attribution of a write: the principal is always the identity's, never the request's.
    func attribution(agent: String?, reason: String?) throws(CairnError) -> Attribution {
        Attribution(principal: try caller.principal, agent: agent, reason: reason)
    }
}
