import ArgumentParser
import CairnCore
import CairnProtocol

struct Search: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find items in a scope by a filter on their values and/or by text.",
        discussion: """
            --filter is a JSON object of dotted paths: '{"status":"open","score":{"$gte":3}}' \
            (operators $eq $ne $gt $gte $lt $lte). --query ranks by text relevance and shows a score.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var scope: ScopeOptions

    @Option(help: ArgumentHelp("A JSON object matched against the values.", valueName: "json"))
    var filter: String?

    @Option(help: ArgumentHelp("Words to look for in the values' text.", valueName: "text"))
    var query: String?

    @Option(help: ArgumentHelp("At most n items (1–1000; the server's default is 10).", valueName: "n"))
    var limit: Int?

    @Option(help: ArgumentHelp("Skip the first n matches.", valueName: "n"))
    var offset: Int?

    func validate() throws {
        try checkPage(limit: limit, offset: offset)
        _ = try parsedFilter()
    }

    func parsedFilter() throws -> JSONValue? {
        guard let filter else { return nil }
        let value = try parseJSON(filter, what: "--filter")
        guard value.objectValue != nil else {
            throw ValidationError("--filter must be a JSON object such as '{\"status\":\"open\"}'")
        }
        return value
    }

    func run() async throws {
        let scope = try scope.scope()
        let filter = try parsedFilter()
        try await Session.run(global) { session in
            // A filter or query the server would refuse is refused here with the server's error.
            let search = try RPC.Search(scope, filter: filter, query: query, limit: limit, offset: offset)
            try await session.call(search) { result in
                let items = result["items"]?.arrayValue ?? []
                guard !items.isEmpty else { return Output.note("no items match") }
                let scored = query != nil
                var table = Table(
                    headers: ["TASK", "ROLE", "KEY", "VERSION", "UPDATED_AT", "UPDATED_BY"] + (scored ? ["SCORE"] : []) + ["VALUE"])
                for item in items {
                    var row = [
                        Output.optional(item["ns"]?["task"]), Output.optional(item["ns"]?["role"]), Output.optional(item["key"]),
                        Output.version(item), Output.optional(item["updated_at"]),
                        Output.optional(item["updated_by"]),
                    ]
                    if scored { row.append(item["score"]?.numberValue.map(formatScore) ?? "-") }
                    row.append(Output.valueCell(item["value"]))
                    table.rows.append(row)
                }
                Output.line(table.render())
                noteMoreMayFollow(shown: items.count, limit: limit, defaultLimit: RPC.Search.defaultLimit, offset: offset)
            }
        }
    }
}

/// A score with three decimals.
func formatScore(_ score: Double) -> String {
    let thousandths = Int((score * 1000).rounded())
    let fraction = String(thousandths % 1000)
    return "\(thousandths / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
}

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List the namespaces of a scope that hold items.",
        aliases: ["list-namespaces"])

    @OptionGroup var global: GlobalOptions
    @OptionGroup var scope: ScopeOptions

    @Option(help: ArgumentHelp("At most n namespaces (1–1000; the server's default is 100).", valueName: "n"))
    var limit: Int?

    @Option(help: ArgumentHelp("Skip the first n namespaces.", valueName: "n"))
    var offset: Int?

    func validate() throws { try checkPage(limit: limit, offset: offset) }

    func run() async throws {
        let scope = try scope.scope()
        try await Session.run(global) { session in
            let list = RPC.ListNamespaces(scope, limit: limit ?? RPC.ListNamespaces.defaultLimit, offset: offset ?? 0)
            try await session.call(list) { result in
                let namespaces = result["namespaces"]?.arrayValue ?? []
                guard !namespaces.isEmpty else { return Output.note("no namespaces hold items in this scope") }
                var table = Table(headers: ["TENANT", "TASK", "ROLE"])
                for ns in namespaces {
                    table.rows.append([Output.optional(ns["tenant"]), Output.optional(ns["task"]), Output.optional(ns["role"])])
                }
                Output.line(table.render())
                noteMoreMayFollow(shown: namespaces.count, limit: limit, defaultLimit: RPC.ListNamespaces.defaultLimit, offset: offset)
            }
        }
    }
}

struct Log: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the audit log of a scope: who wrote what, when and why, oldest first.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var scope: ScopeOptions

    @Option(help: ArgumentHelp("Only writes at or after this RFC 3339 time.", valueName: "time"))
    var since: String?

    @Option(help: ArgumentHelp("Only writes before this RFC 3339 time.", valueName: "time"))
    var until: String?

    @Option(help: ArgumentHelp("Only writes by this principal.", valueName: "principal"))
    var by: String?

    @Option(help: ArgumentHelp("Only entries after this cursor (to page on).", valueName: "cursor"))
    var after: String?

    @Option(help: ArgumentHelp("At most n entries (1–1000; the server's default is 100).", valueName: "n"))
    var limit: Int?

    func validate() throws {
        try checkPage(limit: limit)
        _ = try parseTime(since, flag: "--since")
        _ = try parseTime(until, flag: "--until")
    }

    func run() async throws {
        let scope = try scope.scope()
        let since = try parseTime(since, flag: "--since")
        let until = try parseTime(until, flag: "--until")
        try await Session.run(global) { session in
            let log = RPC.Log(scope, since: since, until: until, by: by, after: after, limit: limit ?? RPC.Log.defaultLimit)
            try await session.call(log) { result in
                let entries = result["entries"]?.arrayValue ?? []
                guard !entries.isEmpty else { return Output.note("no log entries") }
                var table = Table(headers: ["AT", "OP", "TASK", "ROLE", "KEY", "VERSION", "BY", "AGENT", "REASON", "CURSOR"])
                for e in entries {
                    table.rows.append([
                        Output.optional(e["at"]), Output.optional(e["op"]), Output.optional(e["ns"]?["task"]),
                        Output.optional(e["ns"]?["role"]), Output.optional(e["key"]), Output.version(e),
                        Output.optional(e["by"]), Output.optional(e["agent"]), Output.optional(e["reason"]),
                        Output.optional(e["cursor"]),
                    ])
                }
                Output.line(table.render())
                if entries.count == (limit ?? RPC.Log.defaultLimit), let cursor = entries.last?["cursor"]?.stringValue {
                    Output.note("more may follow: --after \(cursor)")
                }
            }
        }
    }
}
