import CairnClient
import CairnCore
import Logging
import MCP

/// One MCP session: one agent's tools and block resources, served by the SDK's `Server` over
/// any transport (stdio, or one Streamable HTTP session), on its own connections to cairnd.
public actor MCPSession {
    public static let serverName = "cairn"
    public static let serverVersion = "0.1.0"

    public nonisolated let settings: SessionSettings
    let connection: CairnConnection
    let server: Server
    private let watcher: BlockWatcher
    private let tools: MemoryTools

    /// Connects to cairnd and authenticates with `token`: a bad address or token fails here,
    /// before any MCP traffic. Both of the session's connections (tools, block watcher) use
    /// `tls` for a cairns:// URL and wait up to `connectTimeout` for cairnd's greeting.
    public static func open(
        _ settings: SessionSettings, token: String?, tls: ClientTLSOptions = .fromEnvironment(),
        connectTimeout: Duration = ConnectTimeout.default, logger: Logger
    ) async throws(CairnError) -> MCPSession {
        let connection = CairnConnection(url: settings.url, token: token, tls: tls, connectTimeout: connectTimeout)
        try await connection.open()
        return MCPSession(settings, connection: connection, token: token, tls: tls, connectTimeout: connectTimeout, logger: logger)
    }

    private init(
        _ settings: SessionSettings, connection: CairnConnection, token: String?, tls: ClientTLSOptions, connectTimeout: Duration,
        logger: Logger
    ) {
        self.settings = settings
        self.connection = connection
        let server = Server(
            name: Self.serverName, version: Self.serverVersion, title: "Cairn shared memory",
            instructions: Self.instructions(settings),
            capabilities: .init(resources: .init(subscribe: true, listChanged: false), tools: .init(listChanged: false)))
        self.server = server
        self.tools = MemoryTools(client: connection, settings: settings)
        self.watcher = BlockWatcher(url: settings.url, token: token, tls: tls, connectTimeout: connectTimeout, logger: logger) { [weak server] uri in
            try? await server?.notify(ResourceUpdatedNotification.message(.init(uri: uri)))
        }
    }

    static func instructions(_ s: SessionSettings) -> String {
        """
        Shared memory for agent \(s.agent.debugDescription) in tenant \(s.tenant.debugDescription). Other agents may \
        read and edit the same blocks at the same time. Start with memory_context. Add with memory_insert \
        (never loses anyone's write); change exact text with memory_replace (fails with no_match if it changed — \
        re-read and retry); rewrite whole blocks with memory_rethink and the if_version you read.
        """
    }

    /// Registers the handlers and starts serving on `transport`.
    public func start(transport: any Transport) async throws {
        let tools = self.tools, watcher = self.watcher, connection = self.connection, settings = self.settings
        await server.withMethodHandler(ListTools.self) { _ in ListTools.Result(tools: ToolCatalog.all) }
        await server.withMethodHandler(CallTool.self) { p in await tools.call(p.name, p.arguments) }
        await server.withMethodHandler(ListResources.self) { _ in
            let blocks = try await Self.mcp { () async throws(CairnError) in try await AttachedBlock.all(connection, settings) }
            return ListResources.Result(resources: blocks.map(BlockResources.resource))
        }
        await server.withMethodHandler(ReadResource.self) { p in
            let block = try await Self.mcp { () async throws(CairnError) in try await BlockResources.attached(p.uri, connection, settings) }
            return ReadResource.Result(contents: [.text(block.item["value"]?.stringValue ?? "", uri: p.uri, mimeType: "text/plain")])
        }
        await server.withMethodHandler(ResourceSubscribe.self) { p in
            try await Self.mcp { () async throws(CairnError) in
                let block = try await BlockResources.attached(p.uri, connection, settings)
                try await watcher.subscribe(block.uri)
            }
            return Empty()
        }
        await server.withMethodHandler(ResourceUnsubscribe.self) { p in
            if let uri = BlockResourceURI(parsing: p.uri) { await watcher.unsubscribe(uri) }
            return Empty()
        }
        try await server.start(transport: transport)
    }

    public func waitUntilCompleted() async {
        await server.waitUntilCompleted()
    }

    public func stop() async {
        await server.stop()
        await watcher.stop()
        await connection.close()
    }

    /// A Cairn failure as an MCP error: the Cairn code, and the reason first in the message.
    static func mcp<T>(_ body: () async throws(CairnError) -> T) async throws(MCPError) -> T {
        do {
            return try await body()
        } catch {
            throw MCPError.serverError(code: error.code, message: ToolErrors.text(error))
        }
    }
}
