import CairnClient
import CairnCore

/// The session's connection to cairnd, made again after it breaks.
///
/// A read on a broken connection is sent once more on a new connection (reads change nothing).
/// A write fails with `connection_failed` — it may or may not have been applied, so it is never
/// sent twice here — and the next call connects and authenticates anew.
actor CairnConnection {
    let url: String
    private let token: String?
    private var client: CairnClient?
    /// For a cairns:// URL: the CA and client certificate (`CAIRN_TLS_CA`, `CAIRN_TLS_CERT`,
    /// `CAIRN_TLS_KEY` unless given).
    private let tls: ClientTLSOptions
    private let connectTimeout: Duration

    init(url: String, token: String?, tls: ClientTLSOptions = .fromEnvironment(), connectTimeout: Duration = ConnectTimeout.default) {
        self.url = url
        self.token = token
        self.tls = tls
        self.connectTimeout = connectTimeout
    }

    /// Connects and authenticates now, so a bad address or token is reported before any tool call.
    func open() async throws(CairnError) {
        _ = try await current()
    }

    /// Methods that write nothing: safe to send again after a broken connection.
    static let reads: Set<String> = ["auth", "get", "search", "history", "log", "block.get", "block.list", "block.agents", "agent.blocks", "agent.context", "ping"]

    func call(_ method: String, _ params: JSONValue) async throws(CairnError) -> JSONValue {
        do {
            return try await callOnce(method, params)
        } catch {
            guard error.reason == .connectionFailed, Self.reads.contains(method) else { throw error }
            return try await callOnce(method, params)
        }
    }

    private func callOnce(_ method: String, _ params: JSONValue) async throws(CairnError) -> JSONValue {
        let client = try await current()
        do {
            return try await client.call(method, params)
        } catch {
            if error.reason == .connectionFailed, self.client === client {
                self.client = nil
                await client.close()
            }
            throw error
        }
    }

    func close() async {
        await client?.close()
        client = nil
    }

    private func current() async throws(CairnError) -> CairnClient {
        if let client { return client }
        let client = try await CairnClient.connect(url: url, token: token, tls: tls, connectTimeout: connectTimeout)
        if let existing = self.client {  // another call connected while this one waited
            await client.close()
            return existing
        }
        self.client = client
        return client
    }
}
