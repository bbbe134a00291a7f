import CairnConfig
import CairnCore
import CairnMCP
import Logging

/// `cairnd --mcp-listen`: the MCP Streamable HTTP endpoint inside cairnd. Each MCP session
/// opens its own client connection to this cairnd's own listener with the session's bearer
/// token, so what a session may do is exactly what cairnd lets that token do.
enum MCPEndpoint {
    static func bind(_ address: HostPort, cairnd settings: CairndSettings, port: Int, logger: Logger) async throws -> MCPHTTPServer {
        // A wildcard listener is reached on loopback; a specific address at that address.
        let host = ["0.0.0.0", "::", ""].contains(settings.listen.host) ? "127.0.0.1" : settings.listen.host
        let url = "cairn://\(HostPort(host: host, port: port))"
        let server = MCPHTTPServer(MCPHTTPConfiguration(cairnURL: url, host: address.host, port: address.port), logger: logger)
        let bound = try await server.bind()
        logger.info("MCP endpoint on http://\(HostPort(host: address.host, port: bound))/mcp (sessions connect to \(url))")
        return server
    }
}
