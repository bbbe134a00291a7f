import Cairn
import CairnClient
import CairnRedis
import CairnServer
import Foundation
import Logging
import ServiceLifecycle

/// A `cairnd` running in this process on a free loopback port, over the tests' real Redis.
public final class TestServer: Sendable {
    /// The server-wide admin token this server accepts.
    public let adminToken: String
    public let server: CairnServer
    public let store: Store
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    public var port: Int { server.port }
    public var url: String { "cairn://127.0.0.1:\(server.port)" }

    /// Starts a server. `pool` defaults to the shared test Redis.
    public init(
        auth: ServerConfiguration.AuthMode = .required, pool: RedisPool = TestRedis.pool,
        storeOptions: StoreOptions = StoreOptions(), configure: (inout ServerConfiguration) -> Void = { _ in }
    ) async throws {
        adminToken = "test-admin-" + UUID().uuidString
        var configuration = ServerConfiguration(
            host: "127.0.0.1", port: 0, auth: auth, adminTokenHashes: [TokenStore.hash(adminToken)])
        // A test that is not about the auth deadline must not meet it on a slow, busy machine.
        configuration.authTimeoutMilliseconds = 600_000
        configure(&configuration)
        store = Store(redis: pool, options: storeOptions)
        var logger = Logger(label: "test-cairnd")
        logger.logLevel = ProcessInfo.processInfo.environment["CAIRN_TEST_LOG"] == nil ? .critical : .debug
        let server = try await CairnServer.bind(configuration: configuration, store: store, logger: logger)
        self.server = server
        // The services cairnd runs (the feed, then the server), in a group of their own; the
        // Redis client is the caller's (the shared one outlives every server).
        let group = ServiceGroup(
            configuration: .init(services: server.services.map { .init(service: $0) }, logger: logger))
        self.group = group
        task = Task { try await group.run() }
    }

    /// A client connected (and, unless `token` is nil and `admin` false, authenticated).
    public func client(token: String? = nil, admin: Bool = false) async throws -> CairnClient {
        // A generous wait for `hello`: this process also runs every other suite at once, and a
        // busy machine has kept the in-process server from greeting within the 5 s default.
        try await CairnClient.connect(host: "127.0.0.1", port: port, token: admin ? adminToken : token, connectTimeout: .seconds(60))
    }

    /// A tenant token with `grants`, minted through the server's admin.
    public func token(
        tenant: String, principal: String = "p", grants: [String], task: String? = nil, role: String? = nil
    ) async throws -> String {
        let admin = try await client(admin: true)
        defer { Task { await admin.close() } }
        return try await admin.createToken(tenant: tenant, principal: principal, grants: grants, task: task, role: role).token
    }

    /// Graceful shutdown of the group (the server stops accepting, answers what is in flight and
    /// closes its connections; then the feed ends its subscriptions), and waits until it stopped.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}
