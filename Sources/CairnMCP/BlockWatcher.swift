import CairnClient
import CairnCore
import Logging

/// Turns Cairn's change events into `notifications/resources/updated` for subscribed blocks.
///
/// It holds its own connection to cairnd (tool calls never wait behind events) with one Cairn
/// subscription per namespace that holds a subscribed block. It remembers the cursor of the
/// last event of each namespace; after the connection breaks it connects again and subscribes
/// `from` those cursors, so no write in between goes unannounced. When cairnd cannot resume
/// (history trimmed) it sends `resync`, and every subscribed block of that namespace is announced
/// as updated so the client re-reads it. A token that is no longer accepted ends the watcher.
actor BlockWatcher {
    /// A namespace by the bytes of its parts (String's == is canonical equivalence; names are not).
    struct NamespaceBytes: Hashable, Sendable {
        var tenant: [UInt8], task: [UInt8]?, role: [UInt8]?
        init(_ uri: BlockResourceURI) {
            tenant = Array(uri.tenant.utf8); task = uri.task.map { Array($0.utf8) }; role = uri.role.map { Array($0.utf8) }
        }
        init?(_ ns: JSONValue?) {
            guard let tenant = ns?["tenant"]?.stringValue else { return nil }
            self.tenant = Array(tenant.utf8)
            task = ns?["task"]?.stringValue.map { Array($0.utf8) }
            role = ns?["role"]?.stringValue.map { Array($0.utf8) }
        }
    }

    /// The most resources one session may subscribe to.
    static let maxSubscribedResources = 1_000

    private let url: String
    private let token: String?
    /// The same TLS options and connect timeout as the session's tool connection.
    private let tls: ClientTLSOptions
    private let connectTimeout: Duration
    private let notify: @Sendable (String) async -> Void
    private let logger: Logger

    /// Subscribed resources, by their URI text (percent-encoded ASCII, so String == is byte ==).
    private var subscribed: [String: BlockResourceURI] = [:]
    /// Namespaces to watch, each with the cursor after which its events are still to come.
    private var namespaces: [NamespaceBytes: (uri: BlockResourceURI, cursor: String?)] = [:]
    /// On the current connection: Cairn subscription id → namespace.
    private var subscriptions: [String: NamespaceBytes] = [:]
    private var subscribedHere: Set<NamespaceBytes> = []
    private var client: CairnClient?
    private var loop: Task<Void, Never>?
    private var starting: Task<Result<Void, CairnError>, Never>?
    private var stopped = false

    init(
        url: String, token: String?, tls: ClientTLSOptions, connectTimeout: Duration, logger: Logger,
        notify: @escaping @Sendable (String) async -> Void
    ) {
        self.url = url
        self.token = token
        self.tls = tls
        self.connectTimeout = connectTimeout
        self.logger = logger
        self.notify = notify
    }

    func subscribe(_ uri: BlockResourceURI) async throws(CairnError) {
        guard !stopped else { throw CairnError(.unauthenticated, "this session's change feed has ended (its token is no longer accepted)") }
        if subscribed[uri.string] == nil, subscribed.count >= Self.maxSubscribedResources {
            throw CairnError(.tooMany, "a session may subscribe to at most \(Self.maxSubscribedResources) resources")
        }
        subscribed[uri.string] = uri
        let ns = NamespaceBytes(uri)
        if namespaces[ns] == nil { namespaces[ns] = (uri, nil) }
        try await started()
        // While the feed is reconnecting there is no client: the reconnect subscribes every
        // namespace, this one included.
        try await subscribeHere(ns)
    }

    /// The first subscription connects (once, however many ask at the same time), so its errors
    /// (unreachable, unauthenticated) reach the caller; then the event loop runs.
    private func started() async throws(CairnError) {
        // Task cannot carry a typed error: the outcome is a Result.
        let starting = self.starting ?? Task { () async -> Result<Void, CairnError> in
            do throws(CairnError) {
                try await self.connectFirst()
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        self.starting = starting
        if case .failure(let error) = await starting.value {
            if self.starting == starting { self.starting = nil }
            throw error
        }
    }

    private func connectFirst() async throws(CairnError) {
        let client = try await CairnClient.connect(url: url, token: token, tls: tls, connectTimeout: connectTimeout)
        self.client = client
        subscriptions = [:]
        subscribedHere = []
        loop = Task { await self.run(client) }
    }

    func unsubscribe(_ uri: BlockResourceURI) {
        // The namespace's Cairn subscription stays (other blocks may share it); its events for
        // this block are no longer announced.
        subscribed[uri.string] = nil
    }

    func stop() async {
        stopped = true
        loop?.cancel()
        await client?.close()
        client = nil
    }

    private func subscribeHere(_ ns: NamespaceBytes) async throws(CairnError) {
        guard let client, !subscribedHere.contains(ns), let entry = namespaces[ns] else { return }
        subscribedHere.insert(ns)
        let scope: JSONValue = [
            "tenant": .string(entry.uri.tenant), "task": entry.uri.task.map(JSONValue.string) ?? .null,
            "role": entry.uri.role.map(JSONValue.string) ?? .null,
        ]
        do {
            let result = try await client.call("subscribe", params(["scope": scope, "from": entry.cursor.map(JSONValue.string)]))
            if let id = result["subscription"]?.stringValue { subscriptions[id] = ns }
            if namespaces[ns]?.cursor == nil, let cursor = result["cursor"]?.stringValue { namespaces[ns]?.cursor = cursor }
        } catch {
            subscribedHere.remove(ns)
            throw error
        }
    }

    /// Reads one connection's events until it ends, then connects again (with a growing pause
    /// between attempts) and resumes every namespace from its cursor.
    private func run(_ first: CairnClient) async {
        var client = first
        var pause: Duration = .milliseconds(50)
        while !Task.isCancelled && !stopped {
            for await note in client.notifications {
                await handle(note)
                pause = .milliseconds(50)
            }
            guard !Task.isCancelled && !stopped else { return }
            self.client = nil
            logger.info("mcp: change feed connection lost; reconnecting and resuming from the last cursors")
            while !Task.isCancelled && !stopped {
                try? await Task.sleep(for: pause)  // a retry delay, not synchronisation
                pause = min(pause * 2, .seconds(5))
                do {
                    let next = try await CairnClient.connect(url: url, token: token, tls: tls, connectTimeout: connectTimeout)
                    self.client = next
                    subscriptions = [:]
                    subscribedHere = []
                    for ns in namespaces.keys { try await subscribeHere(ns) }
                    client = next
                    break
                } catch {
                    if error.reason == .unauthenticated || error.reason == .forbidden {
                        logger.notice("mcp: change feed ended: \(error.reason.rawValue): \(error.message)")
                        stopped = true
                        return
                    }
                    await self.client?.close()
                    self.client = nil
                }
            }
        }
    }

    private func handle(_ note: JSONValue) async {
        let method = note["method"]?.stringValue
        let p = note["params"] ?? .null
        guard let id = p["subscription"]?.stringValue, let ns = subscriptions[id] else { return }
        switch method {
        case "event":
            await handleEvent(p, ns)
        case "events":
            for event in p["events"]?.arrayValue ?? [] { await handleEvent(event, ns) }
        case "resync":
            // Some events could not be delivered: every subscribed block there may have changed.
            for uri in subscribed.values where NamespaceBytes(uri) == ns { await notify(uri.string) }
        default:
            break
        }
    }

    private func handleEvent(_ event: JSONValue, _ ns: NamespaceBytes) async {
        if let cursor = event["cursor"]?.stringValue { namespaces[ns]?.cursor = cursor }
        guard event["kind"]?.stringValue == "block", let key = event["key"]?.stringValue,
            let tenant = event["ns"]?["tenant"]?.stringValue
        else { return }
        let uri = BlockResourceURI(tenant: tenant, task: event["ns"]?["task"]?.stringValue, role: event["ns"]?["role"]?.stringValue, label: key)
        if subscribed[uri.string] != nil { await notify(uri.string) }
    }
}
