import ArgumentParser
import Cairn
import CairnConfig
import CairnCore
import CairnProtocol
import CairnRedis
import CairnRedisServer
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
        discussion: """
            Each setting comes from its flag, else its environment variable (CAIRN_…), else a secret file \
            (--admin-token-file, --redis-url-file), else its default. Secrets only come from files or the \
            environment, and the settings are logged once at start without them.
            """,
        version: "cairnd \(ProtocolInfo.serverVersion) (protocol \(ProtocolInfo.protocolVersion))")

    @OptionGroup var options: CairndOptions

    func run() async throws {
        let given = options.given
        let settings: CairndSettings
        do {
            // Reading the settings reads files (secret files, TLS certificates): not on Swift's
            // cooperative pool.
            settings = try await NIOThreadPool.singleton.runIfActive { try CairndSettings(commandLine: given) }
        } catch let error as CairndSettingsError {
            throw ValidationError(error.message)
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = settings.logLevel
            return handler
        }
        let logger = Logger(label: "cairnd")
        logger.info("cairnd starting: \(settings.summary)")
        if settings.auth == .required && settings.adminTokens.isEmpty {
            logger.warning("no admin token configured: set \(CairndSetting.adminTokenFile.environmentVariable) to mint tenant tokens with token.create")
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
            try await serve(settings: settings, redisURL: redisURL, logger: logger)
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

    /// Binds every listener, then runs one `ServiceGroup` until a shutdown signal: the Redis
    /// client, the change feed, the protocol server, then the metrics and MCP listeners. The
    /// group starts them in that order and shuts them down the other way round, each after the
    /// one after it has finished: the listeners stop, the connections answer what is in flight
    /// and close, the feed ends its subscriptions, and only then do the Redis connections close.
    func serve(settings: CairndSettings, redisURL: String, logger: Logger) async throws {
        // With rediss://, making the configuration reads the TLS files: not on Swift's cooperative pool.
        let configuration = try await NIOThreadPool.singleton.runIfActive {
            try RedisConfiguration(url: redisURL, poolSize: settings.poolSize, tls: settings.redisTLS)
        }
        let pool = RedisPool(configuration: configuration)
        // What is bound so far: on a failure these run and are shut down at once, so that
        // nothing that started (a listening socket, a Redis connection) outlives the start.
        var services: [any Service] = [pool]
        func giveUp(_ failure: ListenFailure, hint: String = "") async -> ExitCode {
            logger.critical("\(failure)\(hint)")
            await Self.shutDownAtOnce(services, logger: logger)
            return ExitCode.failure
        }

        // Why it does not answer (a TLS refusal, a wrong port) is what the operator needs.
        var unreachable: String?
        do {
            let reply = try await pool.send(["PING"])
            if reply.string != "PONG" { unreachable = "it answered PING with \(reply)" }
        } catch {
            unreachable = error.message
        }
        if let unreachable {
            logger.warning("Redis at \(pool.configuration) does not answer yet (\(unreachable)); requests get 'unavailable' until it does")
        }
        let store = Store(redis: pool, options: settings.storeOptions)
        // Every socket is open before anything says it listens: a taken port ends the start with
        // the address and the flag that moves it.
        let server: CairnServer
        do {
            server = try await CairnServer.bind(configuration: settings.server, store: store, logger: logger)
        } catch {
            throw await giveUp(
                ListenFailure(
                    address: settings.listen.description, flag: CairndSetting.listen.flag,
                    environmentVariable: CairndSetting.listen.environmentVariable, error: error))
        }
        services += server.services
        var metricsLine: String?
        if let address = settings.metrics {
            do {
                let metrics = try await MetricsServer.bind(
                    host: address.host, port: address.port, metrics: server.metrics, readiness: { await server.readiness() },
                    tls: server.tls)
                let bound = HostPort(host: address.host, port: metrics.port)
                metricsLine = "metrics on \(server.tls == nil ? "http" : "https")://\(bound)/metrics, health on /health/live and /health/ready"
                services.append(metrics)
            } catch {
                throw await giveUp(
                    ListenFailure(
                        address: address.description, flag: CairndSetting.metricsListen.flag,
                        environmentVariable: CairndSetting.metricsListen.environmentVariable, error: error),
                    hint: " ('off' turns metrics off)")
            }
        }
        if let mcp = settings.mcpListen {
            do {
                services.append(try await MCPEndpoint.bind(mcp, cairnd: settings, port: server.port, logger: logger))
            } catch {
                throw await giveUp(
                    ListenFailure(
                        address: mcp.description, flag: CairndSetting.mcpListen.flag,
                        environmentVariable: CairndSetting.mcpListen.environmentVariable, error: error))
            }
        }
        logger.info(
            "cairnd listening on \(HostPort(host: settings.listen.host, port: server.port)) (protocol 1, auth \(settings.auth.rawValue)\(server.tls == nil ? "" : ", TLS: connect with cairns://"))")
        let reload = server.tls == nil ? nil : TLSReloadOnHangup(server: server, logger: logger)
        defer { reload?.stop() }
        if let metricsLine { logger.info("\(metricsLine)") }

        let group = ServiceGroup(
            configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("cairnd stopped: every connection closed")
    }

    /// Runs `services` only to shut them down gracefully at once (a start that failed half-way):
    /// each closes what it opened, in the group's reverse order.
    static func shutDownAtOnce(_ services: [any Service], logger: Logger) async {
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: logger))
        await group.triggerGracefulShutdown()
        try? await group.run()
    }
}
