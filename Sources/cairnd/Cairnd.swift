import ArgumentParser
import Cairn
import CairnProtocol
import CairnRedis
import CairnServer
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle

@main
struct Cairnd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cairnd",
        abstract: "Cairn's server: shared memory for teams of LLM agents, over NDJSON/JSON-RPC on TCP.",
        discussion: "Every flag also reads an environment variable (CAIRN_…); flags win. Secrets only come from files or the environment.",
        version: "cairnd \(ProtocolInfo.serverVersion) (protocol \(ProtocolInfo.protocolVersion))")

    @OptionGroup var options: Options

    func run() async throws {
        let settings = try Settings(options)
        let level = Logger.Level(rawValue: settings.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "cairnd")
        var configuration = ServerConfiguration(
            host: settings.listenHost, port: settings.listenPort, auth: settings.auth,
            adminTokenHashes: Set(settings.adminTokens.map(TokenStore.hash)), maxLineBytes: settings.maxLineBytes,
            maxConnections: settings.maxConnections, maxPendingOutputBytes: settings.maxPendingOutputBytes,
            maxSubscriptionsPerConnection: settings.maxSubscriptions, maxBufferedEvents: settings.maxBufferedEvents,
            authTimeoutMilliseconds: settings.authTimeoutMilliseconds)
        configuration.maxEventBufferBytes = settings.maxEventBufferBytes
        configuration.tls = settings.tls
        do {
            try configuration.validate()
        } catch {
            throw ValidationError(error.message)
        }
        logger.info("cairnd starting: \(settings.summary)")
        if settings.auth == .required && settings.adminTokens.isEmpty {
            logger.warning("no admin token configured: set CAIRN_ADMIN_TOKEN_FILE to mint tenant tokens with token.create")
        }

        var embedded: RedisServerProcess?
        let redisURL: String
        if let url = settings.redisURL {
            redisURL = url
        } else {
            let directory = URL(fileURLWithPath: settings.dataDirectory).appendingPathComponent("redis").path
            do {
                // Starting it waits for PING with blocking calls: not on Swift's cooperative pool.
                embedded = try await NIOThreadPool.singleton.runIfActive {
                    try RedisServerProcess(.init(dataDirectory: directory, appendOnly: true))
                }
            } catch {
                logger.critical("cannot start the embedded redis-server: \(error)")
                throw ExitCode.failure
            }
            redisURL = embedded!.url
            logger.info("embedded redis-server started on 127.0.0.1:\(embedded!.port) (pid \(embedded!.processIdentifier), data in \(directory), append-only file on)")
        }

        // Whatever happens while serving, the embedded Redis stops with cairnd.
        let outcome: Result<Void, any Error>
        do {
            try await serve(settings: settings, redisURL: redisURL, configuration: configuration, logger: logger)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        if let embedded {
            try? await NIOThreadPool.singleton.runIfActive { embedded.stop(save: true) }
            logger.info("embedded redis-server stopped")
        }
        try outcome.get()
    }

    /// Connects to Redis, binds, and serves until a shutdown signal.
    func serve(settings: Settings, redisURL: String, configuration: ServerConfiguration, logger: Logger) async throws {
        let pool = RedisPool(configuration: try RedisConfiguration(url: redisURL, poolSize: settings.poolSize))
        let reachable = try? await pool.send(["PING"])
        if reachable?.string != "PONG" {
            logger.warning("Redis at \(pool.configuration) does not answer yet; requests get 'unavailable' until it does")
        }
        let store = Store(redis: pool, options: settings.storeOptions)
        // Both sockets are open before anything says it listens: a taken port ends the start with
        // the address and the flag that moves it.
        let server: CairnServer
        do {
            server = try await CairnServer.bind(configuration: configuration, store: store, logger: logger)
        } catch {
            let failure = ListenFailure(
                address: "\(settings.listenHost):\(settings.listenPort)", flag: "--listen", environmentVariable: "CAIRN_LISTEN", error: error)
            logger.critical("\(failure)")
            await pool.shutdown()
            throw ExitCode.failure
        }
        // A later socket that cannot be opened closes what is already open.
        func giveUp(_ failure: ListenFailure, hint: String = "") async -> ExitCode {
            logger.critical("\(failure)\(hint)")
            server.beginGracefulShutdown()
            server.feed.stop()
            await pool.shutdown()
            return ExitCode.failure
        }
        var services: [any Service] = [CairnService(server: server)]
        var metricsLine: String?
        if let host = settings.metricsHost {
            do {
                let metrics = try await MetricsServer.bind(
                    host: host, port: settings.metricsPort, metrics: server.metrics, readiness: { await server.readiness() },
                    tls: server.tls)
                metricsLine = "metrics on \(server.tls == nil ? "http" : "https")://\(host):\(metrics.port)/metrics, health on /health/live and /health/ready"
                services.append(MetricsService(server: metrics))
            } catch {
                throw await giveUp(
                    ListenFailure(
                        address: "\(host):\(settings.metricsPort)", flag: "--metrics-listen", environmentVariable: "CAIRN_METRICS_LISTEN",
                        error: error),
                    hint: " ('off' turns metrics off)")
            }
        }
        if let mcp = settings.mcpListen {
            do {
                services.append(try await MCPEndpoint.bind(mcp, cairnd: settings, port: server.port, logger: logger))
            } catch {
                throw await giveUp(
                    ListenFailure(address: "\(mcp.host):\(mcp.port)", flag: "--mcp-listen", environmentVariable: "CAIRN_MCP_LISTEN", error: error))
            }
        }
        logger.info(
            "cairnd listening on \(settings.listenHost):\(server.port) (protocol 1, auth \(settings.auth.rawValue)\(server.tls == nil ? "" : ", TLS: connect with cairns://"))")
        let reload = server.tls == nil ? nil : TLSReloadOnHangup(server: server, logger: logger)
        defer { reload?.stop() }
        if let metricsLine { logger.info("\(metricsLine)") }

        let group = ServiceGroup(
            configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("cairnd stopped: every connection closed")
        await pool.shutdown()
    }
}

/// The protocol server as a service: graceful shutdown stops accepting, finishes the requests
/// in flight, then closes the connections.
struct CairnService: Service {
    let server: CairnServer

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await server.run()
        } onGracefulShutdown: {
            server.beginGracefulShutdown()
        }
    }
}

struct MetricsService: Service {
    let server: MetricsServer

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await server.run()
        } onGracefulShutdown: {
            server.close()
        }
    }
}
