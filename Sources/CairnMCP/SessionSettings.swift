import CairnClient
import CairnCore
import OrderedCollections

/// Who one MCP session is: one agent in one namespace of one tenant, and where its cairnd is.
///
/// Names are Strings as the wire carries them; they are checked here once with CairnCore's rules
/// so a bad `--tenant` is a clear startup error rather than every tool call's.
public struct SessionSettings: Sendable, Hashable {
    public var url: String
    public var tenant: String
    public var agent: String
    public var task: String?
    public var role: String?

    public init(url: String, tenant: String, agent: String, task: String? = nil, role: String? = nil) throws(CairnError) {
        try NameRules.component(tenant, field: "tenant")
        if let task { try NameRules.component(task, field: "task") }
        if let role { try NameRules.component(role, field: "role") }
        try NameRules.key(agent, field: "agent")
        _ = try CairnClient.parse(url: url)
        self.url = url
        self.tenant = tenant
        self.agent = agent
        self.task = task
        self.role = role
    }

    /// The session's own namespace as the wire writes it.
    public var namespace: JSONValue { Self.namespace(tenant: tenant, task: task, role: role) }

    static func namespace(tenant: String, task: String?, role: String?) -> JSONValue {
        var o: JSONObject = ["tenant": .string(tenant)]
        if let task { o["task"] = .string(task) }
        if let role { o["role"] = .string(role) }
        return .object(o)
    }
}

/// CairnCore's name rules, the one place this module meets CairnCore's name types: names here
/// stay Strings as the wire carries them, checked before they are sent.
enum NameRules {
    /// A tenant, task or role.
    static func component(_ value: String, field: String) throws(CairnError) {
        try Namespace.validateComponent(value, field: field)
    }

    /// A key, label or agent.
    static func key(_ value: String, field: String) throws(CairnError) {
        try Key.validate(value, field: field)
    }
}
