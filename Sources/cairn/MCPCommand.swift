import ArgumentParser
import CairnClient
import CairnCore
import CairnMCP
import Foundation
import Logging
import MCP

/// `cairn mcp`: Cairn's memory tools for one agent over the Model Context Protocol, on stdio
/// (started by the agent's MCP client) or, with `--listen`, over Streamable HTTP.
struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve Cairn as MCP tools and resources for an agent (stdio, or HTTP with --listen).",
        discussion: """
            On stdio (the default) one process is one session: agent --agent (or $CAIRN_AGENT) in \
            the namespace --tenant/--task/--role (or $CAIRN_TENANT, $CAIRN_TASK, $CAIRN_ROLE), \
            authenticated with $CAIRN_TOKEN or --token-file. stdout carries only MCP messages; logs go to stderr.

            With --listen HOST:PORT it serves the Streamable HTTP transport at /mcp instead: each \
            session authenticates with its own `Authorization: Bearer <token>` and names its agent \
            with ?agent=… (and optionally ?tenant=, ?task=, ?role=); the flags here are defaults.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The tenant (default: $CAIRN_TENANT).", valueName: "tenant"))
    var tenant: String?

    @Option(help: ArgumentHelp("The agent this session acts as; its attached blocks are its memory (default: $CAIRN_AGENT).", valueName: "agent"))
    var agent: String?

    @Option(help: ArgumentHelp("The task of the session's namespace (default: $CAIRN_TASK, else none).", valueName: "task"))
    var task: String?

    @Option(help: ArgumentHelp("The role of the session's namespace (default: $CAIRN_ROLE, else none).", valueName: "role"))
    var role: String?

    @Option(help: ArgumentHelp("Serve Streamable HTTP on HOST:PORT instead of stdio.", valueName: "host:port"))
    var listen: String?

    @Option(help: "With --listen: most open sessions.")
    var maxSessions: Int = 100

    @Option(help: "With --listen: seconds a session may stay idle (no request, no open stream).")
    var idleTimeout: Int = 600

    @Option(help: "With --listen: largest request body in bytes.")
    var maxBodyBytes: Int = 1 << 20

    @Option(help: "trace, debug, info, notice, warning, error (on stderr).")
    var logLevel: String = "notice"

    func validate() throws {
        try checkMinimum(maxSessions, 1, flag: "--max-sessions")
        try checkMinimum(idleTimeout, 1, flag: "--idle-timeout")
        try checkMinimum(maxBodyBytes, 1024, flag: "--max-body-bytes")
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level \(logLevel.debugDescription) is not a log level") }
        if listen == nil {
            guard tenant ?? environment("CAIRN_TENANT") != nil else { throw ValidationError("missing --tenant (or set CAIRN_TENANT)") }
            guard agent ?? environment("CAIRN_AGENT") != nil else {
                throw ValidationError("missing --agent (or set CAIRN_AGENT): the agent this session acts as")
            }
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .notice
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "cairn-mcp")
        let tenant = self.tenant ?? environment("CAIRN_TENANT"), agent = self.agent ?? environment("CAIRN_AGENT")
        let task = self.task ?? environment("CAIRN_TASK"), role = self.role ?? environment("CAIRN_ROLE")
        if let listen {
            let (host, port) = try usage { () throws(CairnError) in try MCPListenAddress.parse(listen) }
            var configuration = MCPHTTPConfiguration(cairnURL: global.resolvedURL, host: host, port: port)
            configuration.maxSessions = maxSessions
            (configuration.cairnTLS, configuration.connectTimeout) = (global.tls, global.resolvedConnectTimeout)
            configuration.idleTimeout = .seconds(idleTimeout)
            configuration.maxBodyBytes = maxBodyBytes
            (configuration.defaultTenant, configuration.defaultAgent) = (tenant, agent)
            (configuration.defaultTask, configuration.defaultRole) = (task, role)
            let server = MCPHTTPServer(configuration, logger: logger)
            try await server.run()
            return
        }
        guard let tenant else { throw ValidationError("missing --tenant (or set CAIRN_TENANT)") }
        guard let agent else { throw ValidationError("missing --agent (or set CAIRN_AGENT): the agent this session acts as") }
        let token = try global.token()
        let settings = try usage { () throws(CairnError) in
            try SessionSettings(url: global.resolvedURL, tenant: tenant, agent: agent, task: task, role: role)
        }
        let session: MCPSession
        do {
            session = try await MCPSession.open(settings, token: token, tls: global.tls, connectTimeout: global.resolvedConnectTimeout, logger: logger)
        } catch {
            Output.error(error)
            if token == nil, error.reason == .unauthenticated { Output.note("no token given: set CAIRN_TOKEN or use --token-file") }
            throw ExitCode(ExitStatus.code(for: error.reason))
        }
        try await session.start(transport: StdioTransport(logger: logger))
        await session.waitUntilCompleted()
        await session.stop()
    }
}
