import CairnCore

/// The prompt-ready text of an agent's blocks (`agent.context`'s `rendered`).
///
/// ```
/// <memory_blocks agent="researcher-1" tenant="acme">
/// <block label="organization" version="7" chars="42/5000" read_only="false">
/// <description>What every agent must know about the org.</description>
/// <value>
/// …the text…
/// </value>
/// </block>
/// </memory_blocks>
/// ```
///
/// Blocks come in label order. Attribute values escape `&`, `<`, `>` and `"`; the description
/// escapes `&`, `<`, `>`; the value is given as stored, so the agent sees its memory verbatim.
public enum ContextRendering {
    public static func render(agent: String, tenant: String, blocks: [Item]) -> String {
        var out = "<memory_blocks agent=\"\(attribute(agent))\" tenant=\"\(attribute(tenant))\">\n"
        if blocks.isEmpty { out += "(no blocks attached)\n" }
        for block in blocks {
            let text = block.value.stringValue ?? ""
            let properties = block.block ?? BlockProperties()
            out += "<block label=\"\(attribute(block.key.string))\" version=\"\(block.version)\""
            out += " chars=\"\(BlockText.characters(text))/\(properties.limit)\" read_only=\"\(properties.readOnly)\">\n"
            if let description = properties.description { out += "<description>\(escape(description))</description>\n" }
            out += "<value>\n\(text)\n</value>\n</block>\n"
        }
        out += "</memory_blocks>"
        return out
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    static func attribute(_ s: String) -> String {
        escape(s).replacingOccurrences(of: "\"", with: "&quot;")
    }
}
