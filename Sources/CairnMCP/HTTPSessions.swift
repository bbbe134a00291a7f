import CairnCore
import Crypto
import Foundation
import Logging
import MCP

/// The open Streamable HTTP sessions: at most `maxSessions`, each bound to the bearer token that
/// opened it, closed after `idleTimeout` without requests or open streams.
actor HTTPSessions {
    private struct Entry {
        let session: MCPSession
        let transport: StatefulHTTPServerTransport
        /// SHA-256 of the bearer token: later requests must carry the same one.
        let tokenDigest: [UInt8]
        var lastUsed: ContinuousClock.Instant
        var openStreams = 0
        var sentBytes = 0
    }

    private let configuration: MCPHTTPConfiguration
    private let logger: Logger
    private var sessions: [String: Entry] = [:]
    /// Sessions being opened (counted against the limit while cairnd is asked).
    private var opening = 0

    init(configuration: MCPHTTPConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    var count: Int { sessions.count }

    static func digest(_ token: String) -> [UInt8] { Array(SHA256.hash(data: Array(token.utf8))) }

    /// Routes one whole HTTP request (already checked for path and body size).
    func handle(_ request: HTTPRequest, target: String) async -> HTTPResponse {
        guard let token = Self.bearerToken(request) else {
            return .error(
                statusCode: 401, .invalidRequest("unauthenticated: send Authorization: Bearer <cairn token>"),
                extraHeaders: [HTTPHeaderName.wwwAuthenticate: #"Bearer realm="cairn""#])
        }
        if let id = request.header(HTTPHeaderName.sessionID) {
            // An unknown id and another token's session look the same: not found.
            guard var entry = sessions[id], entry.tokenDigest == Self.digest(token) else {
                return .error(statusCode: 404, .invalidRequest("not_found: no such MCP session (it may have expired); initialize a new one"))
            }
            entry.lastUsed = .now
            sessions[id] = entry
            let response = await entry.transport.handleRequest(request)
            if request.method.uppercased() == "DELETE", response.statusCode == 200 { await close(id) }
            return response
        }
        guard request.method.uppercased() == "POST", Self.isInitialize(request.body) else {
            return .error(statusCode: 400, .invalidRequest("missing \(HTTPHeaderName.sessionID) header: start with an initialize request"))
        }
        return await open(request, target: target, token: token)
    }

    private func open(_ request: HTTPRequest, target: String, token: String) async -> HTTPResponse {
        guard sessions.count + opening < configuration.maxSessions else {
            return .error(statusCode: 503, .serverError(code: CairnError.Reason.tooMany.code, message: "too_many: this endpoint already has \(configuration.maxSessions) MCP sessions; retry later"))
        }
        opening += 1
        defer { opening -= 1 }
        let session: MCPSession
        do {
            let tokenTenant = try await Self.tokenTenant(configuration, token)
            let settings = try HTTPSessionIdentity.settings(path: target, headers: request.headers, configuration: configuration, tokenTenant: tokenTenant)
            session = try await MCPSession.open(
                settings, token: token, tls: configuration.cairnTLS, connectTimeout: configuration.connectTimeout, logger: logger)
        } catch {
            let status = switch error.reason {
            case .unauthenticated: 401
            case .forbidden: 403
            case .connectionFailed, .unavailable: 502
            default: 400
            }
            return .error(
                statusCode: status, .serverError(code: error.code, message: ToolErrors.text(error)),
                extraHeaders: status == 401 ? [HTTPHeaderName.wwwAuthenticate: #"Bearer realm="cairn", error="invalid_token""#] : [:])
        }
        let id = UUID().uuidString
        let transport = StatefulHTTPServerTransport(
            sessionIDGenerator: FixedSessionID(id: id),
            validationPipeline: StandardValidationPipeline(validators: [
                configuration.isLoopback ? OriginValidator.localhost() : OriginValidator.disabled,
                AcceptHeaderValidator(mode: .sseRequired), ContentTypeValidator(), ProtocolVersionValidator(), SessionValidator(),
            ]),
            logger: logger)
        do {
            try await session.start(transport: transport)
        } catch {
            await session.stop()
            return .error(statusCode: 500, .internalError("cannot start the MCP session: \(error)"))
        }
        sessions[id] = Entry(session: session, transport: transport, tokenDigest: Self.digest(token), lastUsed: .now)
        let response = await transport.handleRequest(request)
        if case .error = response { await close(id) }
        logger.info("mcp: session opened", metadata: ["agent": "\(session.settings.agent)", "sessions": "\(sessions.count)"])
        return response
    }

    /// `auth`'s tenant for a token, for sessions that name no tenant.
    private static func tokenTenant(_ configuration: MCPHTTPConfiguration, _ token: String) async throws(CairnError) -> String? {
        let connection = CairnConnection(
            url: configuration.cairnURL, token: nil, tls: configuration.cairnTLS, connectTimeout: configuration.connectTimeout)
        defer { Task { await connection.close() } }
        let identity = try await connection.call("auth", ["token": .string(token)])
        return identity["tenant"]?.stringValue
    }

    func streamOpened(_ id: String?) {
        guard let id, sessions[id] != nil else { return }
        sessions[id]?.openStreams += 1
    }

    /// Counts SSE bytes sent by a session; false once it is past its budget (then it is closed).
    func sent(_ bytes: Int, by id: String?) async -> Bool {
        guard let id, sessions[id] != nil else { return true }
        sessions[id]?.sentBytes += bytes
        guard let total = sessions[id]?.sentBytes, total > configuration.maxSessionBytes else { return true }
        logger.notice("mcp: session closed after sending \(total) bytes (the budget is \(configuration.maxSessionBytes))")
        await close(id)
        return false
    }

    func streamClosed(_ id: String?) {
        guard let id, sessions[id] != nil else { return }
        sessions[id]?.openStreams -= 1
        sessions[id]?.lastUsed = .now
    }

    /// Closes sessions idle longer than the timeout; returns how many it closed.
    @discardableResult
    func reap(now: ContinuousClock.Instant = .now) async -> Int {
        let idle = sessions.filter { $0.value.openStreams <= 0 && now - $0.value.lastUsed > configuration.idleTimeout }.map(\.key)
        for id in idle { await close(id) }
        return idle.count
    }

    func close(_ id: String) async {
        guard let entry = sessions.removeValue(forKey: id) else { return }
        await entry.session.stop()
        await entry.transport.disconnect()
    }

    func closeAll() async {
        for id in Array(sessions.keys) { await close(id) }
    }

    static func bearerToken(_ request: HTTPRequest) -> String? {
        guard let value = request.header(HTTPHeaderName.authorization) else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    /// Whether a body is an `initialize` request (alone, or first in a batch).
    static func isInitialize(_ body: Data?) -> Bool {
        guard let body, let json = try? JSONValue(parsing: Array(body)) else { return false }
        let first = json.arrayValue?.first ?? json
        return first["method"]?.stringValue == "initialize"
    }
}

private struct FixedSessionID: SessionIDGenerator {
    let id: String
    func generateSessionID() -> String { id }
}
