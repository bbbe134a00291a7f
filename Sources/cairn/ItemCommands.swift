import ArgumentParser
import CairnClient
import CairnCore
import CairnProtocol
import Foundation

let pageLimit = 1...1000

func checkPage(limit: Int?, offset: Int? = nil) throws {
    if let limit, !pageLimit.contains(limit) { throw ValidationError("--limit must be between 1 and 1000") }
    try checkMinimum(offset, 0, flag: "--offset")
}

/// After a full page (`limit`, else the server's default), where the next page starts.
func noteMoreMayFollow(shown: Int, limit: Int?, defaultLimit: Int, offset: Int?) {
    if shown == (limit ?? defaultLimit) {
        Output.note("more may follow: --offset \((offset ?? 0) + shown)")
    }
}

struct Ping: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that the server answers (and, with a token, who it says you are).")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await Session.run(global) { session in
            try await session.call(RPC.Ping()) { _ in
                let hello = session.client.hello
                func field(_ json: JSONValue?, _ name: String) -> String { Output.plainOrUnknown(json?[name]) }
                var text = "pong from \(global.resolvedURL)"
                if hello["server"] != nil {
                    text += " (\(field(hello, "server")) \(field(hello, "version")), protocol \(field(hello, "protocol"))"
                    text += ", auth \(field(hello, "auth")))"
                }
                Output.line(text)
                if let identity = session.identity {
                    let tenant = identity["tenant"]?.stringValue.map { "tenant \($0)" } ?? "every tenant"
                    let grants = identity["grants"]?.arrayValue?.compactMap(\.stringValue).joined(separator: ",") ?? ""
                    Output.line("authenticated as \(field(identity, "principal")) on \(tenant) (grants: \(grants))")
                }
            }
        }
    }
}

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print an item's value and its version.",
        discussion: "Exits with status 3 when the key does not exist (with --json, after printing null).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var namespace: NamespaceOptions

    @Argument(help: "The item's key.")
    var key: String

    @Option(help: ArgumentHelp("Read this past version (if history still keeps it).", valueName: "n"))
    var version: Int?

    @Flag(help: "Print only the value: a string as plain text, anything else as compact JSON.")
    var raw = false

    func validate() throws {
        try checkKey(key)
        try checkMinimum(version, 1, flag: "--version")
        if raw, global.json { throw ValidationError("--raw and --json exclude each other") }
    }

    func run() async throws {
        let ns = try namespace.namespace()
        try await Session.run(global) { session in
            let item = try await session.client.call(RPC.Get(ns, key: key, version: version))
            if global.json { Output.line(item.serialized()) }
            guard !item.isNull else {
                let which = version.map { "version \($0) of " } ?? ""
                throw CairnError(.notFound, "no \(which)item \(key.debugDescription) in \(ns)")
            }
            if global.json { return }
            let value = item["value"] ?? .null
            if raw {
                Output.line(Output.plain(value))
                return
            }
            let isBlock = item["kind"]?.stringValue == "block"
            Output.line(isBlock ? Output.plain(value) : value.prettyPrinted())
            var meta = ["version \(Output.version(item))"]
            if let at = item["updated_at"]?.stringValue { meta.append("updated_at \(at)") }
            if let by = item["updated_by"]?.stringValue { meta.append("updated_by \(by)") }
            if let agent = item["agent"]?.stringValue { meta.append("agent \(agent)") }
            if isBlock {
                meta.append("block, \(Output.charsAndLimit(item)) chars")
                if item["read_only"]?.boolValue == true { meta.append("read-only") }
            }
            Output.line("-- " + meta.joined(separator: ", "))
        }
    }
}

struct Put: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write an item's value (any JSON value but null).",
        discussion: """
            VALUE is JSON: 42, true, '"some text"', '{"status":"open"}'. Without VALUE the JSON is read \
            from stdin. With --string, VALUE (or all of stdin, less one trailing newline) is stored as a \
            JSON string as is. A VALUE that starts with '-' goes after `--`: cairn put n -- -1.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var namespace: NamespaceOptions

    @Argument(help: "The item's key.")
    var key: String

    @Argument(help: ArgumentHelp("The value as JSON; read from stdin when omitted.", valueName: "value"))
    var value: String?

    @Flag(help: "Store VALUE (or stdin's text) as a JSON string instead of parsing it as JSON.")
    var string = false

    @Option(
        name: .customLong("if-version"),
        help: ArgumentHelp("Write only if the current version is n (0: only if the key is absent).", valueName: "n"))
    var ifVersion: Int?

    @Option(help: reasonHelp)
    var reason: String?

    @Option(help: ArgumentHelp("The agent the write is made for, recorded with it.", valueName: "id"))
    var agent: String?

    func validate() throws {
        try checkKey(key)
        if let agent { try checkKey(agent, field: "agent") }
        try checkMinimum(ifVersion, 0, flag: "--if-version")
        if let value { _ = try Self.decode(value, asString: string, what: "VALUE") }
    }

    static func decode(_ text: String, asString: Bool, what: String) throws -> JSONValue {
        if asString { return .string(text) }
        let hint = "; to store it as text, add --string or quote it as JSON: '\"…\"'"
        let value = try parseJSON(text, what: what, hint: hint)
        if value.isNull { throw ValidationError("\(what) is null; to remove an item use `cairn delete`") }
        return value
    }

    func readValue() throws -> JSONValue {
        if let value { return try Self.decode(value, asString: string, what: "VALUE") }
        if isatty(STDIN_FILENO) != 0 { Output.note("reading the value from stdin (end with Ctrl-D)") }
        let data = FileHandle.standardInput.readDataToEndOfFile()
        var text = String(decoding: data, as: UTF8.self)
        if string {
            if text.hasSuffix("\n") { text.removeLast() }
            return .string(text)
        }
        guard !text.allSatisfy(\.isWhitespace) else {
            throw ValidationError("no value: give VALUE or pipe JSON on stdin")
        }
        return try Self.decode(text, asString: false, what: "the value on stdin")
    }

    func run() async throws {
        let ns = try namespace.namespace()
        let value: JSONValue
        do {
            value = try readValue()
        } catch let error as ValidationError {
            throw Output.usageError(error, command: "put")
        }
        try await Session.run(global) { session in
            let put = RPC.Put(ns, key: key, value: value, ifVersion: ifVersion, reason: reason, agent: agent)
            try await session.call(put) { result in
                Output.line("stored \(key.debugDescription) at version \(Output.version(result))")
            }
        }
    }
}

struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete an item (deleting an absent key is not an error).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var namespace: NamespaceOptions

    @Argument(help: "The item's key.")
    var key: String

    @Option(
        name: .customLong("if-version"),
        help: ArgumentHelp("Delete only if the current version is n.", valueName: "n"))
    var ifVersion: Int?

    @Option(help: reasonHelp)
    var reason: String?

    @Option(help: ArgumentHelp("The agent the delete is made for, recorded with it.", valueName: "id"))
    var agent: String?

    func validate() throws {
        try checkKey(key)
        if let agent { try checkKey(agent, field: "agent") }
        try checkMinimum(ifVersion, 0, flag: "--if-version")
    }

    func run() async throws {
        let ns = try namespace.namespace()
        try await Session.run(global) { session in
            let delete = RPC.Delete(ns, key: key, ifVersion: ifVersion, reason: reason, agent: agent)
            try await session.call(delete) { result in
                if result["existed"]?.boolValue == true {
                    Output.line("deleted \(key.debugDescription) at version \(Output.version(result))")
                } else {
                    Output.line("no item \(key.debugDescription): nothing deleted")
                }
            }
        }
    }
}

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show an item's past versions, newest first.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var namespace: NamespaceOptions

    @Argument(help: "The item's key.")
    var key: String

    @Option(help: ArgumentHelp("At most n entries (1–1000; the server's default is 20).", valueName: "n"))
    var limit: Int?

    @Option(
        name: .customLong("before-version"),
        help: ArgumentHelp("Only versions older than n (to page back).", valueName: "n"))
    var beforeVersion: Int?

    func validate() throws {
        try checkKey(key)
        try checkPage(limit: limit)
        try checkMinimum(beforeVersion, 1, flag: "--before-version")
    }

    func run() async throws {
        let ns = try namespace.namespace()
        try await Session.run(global) { session in
            let history = RPC.History(ns, key: key, limit: limit ?? RPC.History.defaultLimit, beforeVersion: beforeVersion)
            try await session.call(history) { result in
                let entries = result["entries"]?.arrayValue ?? []
                guard !entries.isEmpty else { return Output.note("no history for \(key.debugDescription)") }
                var table = Table(headers: ["VERSION", "OP", "AT", "BY", "AGENT", "REASON", "VALUE"])
                for e in entries {
                    table.rows.append([
                        Output.version(e), Output.optional(e["op"]), Output.optional(e["at"]),
                        Output.optional(e["by"]), Output.optional(e["agent"]), Output.optional(e["reason"]),
                        Output.valueCell(e["value"]),
                    ])
                }
                Output.line(table.render())
                if entries.count == (limit ?? RPC.History.defaultLimit), let last = entries.last?["version"]?.intValue, last > 1 {
                    Output.note("older versions may follow: --before-version \(last)")
                }
            }
        }
    }
}

struct Call: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send any protocol method with JSON params and print the result.",
        discussion: "For methods without a command of their own: cairn call agent.blocks '{\"tenant\":\"acme\",\"agent\":\"agent-1\"}'")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The method, as in the protocol (agent.blocks, block.get, …).")
    var method: String

    @Argument(help: ArgumentHelp("The params as a JSON object (default: {}).", valueName: "params"))
    var params: String?

    func validate() throws { _ = try parsedParams() }

    func parsedParams() throws -> JSONValue {
        guard let params else { return [:] }
        let value = try parseJSON(params, what: "PARAMS")
        guard value.objectValue != nil else { throw ValidationError("PARAMS must be a JSON object") }
        return value
    }

    func run() async throws {
        let params = try parsedParams()
        try await Session.run(global) { session in
            try await session.call(method, params) { result in Output.line(result.prettyPrinted()) }
        }
    }
}
