import CairnClient
import CairnCore

/// The session's connection to cairnd, made again after it breaks.
///
/// A call on a broken connection fails (`connection_failed`: a write may or may not have been
/// applied, so it is never sent twice here); the next call connects and authenticates anew.
actor CairnConnection {
    let url: String
    private let token: String?
    private var client: CairnClient?

    init(url: String, token: String?) {
        self.url = url
        self.token = token
    }

    /// Connects and authenticates now, so a bad address or token is reported before any tool call.
    func open() async throws(CairnError) {
        _ = try await current()
    }

    func call(_ method: String, _ params: JSONValue) async throws(CairnError) -> JSONValue {
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
        let client = try await CairnClient.connect(url: url, token: token)
        if let existing = self.client {  // another call connected while this one waited
            await client.close()
            return existing
        }
        self.client = client
        return client
    }
}
