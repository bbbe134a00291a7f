import CairnCore
import MCP

/// The agent's attached blocks as MCP resources (and only those).
enum BlockResources {
    static func resource(_ block: AttachedBlock) -> Resource {
        let description = block.item["description"]?.stringValue
        return Resource(
            name: block.label, uri: block.uri.string, title: block.label,
            description: description.map { "\($0) (version \(block.version))" } ?? "version \(block.version)",
            mimeType: "text/plain")
    }

    /// The attached block a resource URI names; `not_found` for a URI that is not one of them
    /// (whether or not such a block exists elsewhere is not told).
    static func attached(_ uri: String, _ connection: CairnConnection, _ settings: SessionSettings) async throws(CairnError) -> AttachedBlock {
        guard let parsed = BlockResourceURI(parsing: uri) else {
            throw CairnError.invalidParams("uri", "not a Cairn block URI: expected cairn://<tenant>/<task>/<role>/blocks/<label>, percent-encoded")
        }
        let blocks = try await AttachedBlock.all(connection, settings)
        guard let block = blocks.first(where: { $0.uri.string == parsed.string }) else {
            throw CairnError(.notFound, "\(uri) is not one of agent \(settings.agent.debugDescription)'s blocks (resources/list lists them)")
        }
        return block
    }
}
