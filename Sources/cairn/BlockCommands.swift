import ArgumentParser
import CairnClient
import CairnCore
import CairnProtocol
import Foundation

/// `--reason` and `--agent` of a block edit, recorded in history and the audit log.
struct AttributionOptions: ParsableArguments {
    @Option(help: reasonHelp)
    var reason: String?

    @Option(help: ArgumentHelp("The agent the edit is made for, recorded with it.", valueName: "id"))
    var agent: String?

    func validate() throws {
        if let agent { try checkKey(agent, field: "agent") }
    }
}

/// Block text given as an argument or, with `--from-stdin`, as all of stdin less one trailing
/// newline (so `echo text | …` stores `text`).
enum BlockInput {
    static func check(_ argument: String?, fromStdin: Bool, name: String, required: Bool) throws {
        if argument != nil, fromStdin { throw ValidationError("\(name) and --from-stdin exclude each other") }
        if required, argument == nil, !fromStdin { throw ValidationError("missing \(name) (or give --from-stdin)") }
    }

    static func read(_ argument: String?, fromStdin: Bool) -> String? {
        if let argument { return argument }
        guard fromStdin else { return nil }
        if isatty(STDIN_FILENO) != 0 { Output.note("reading the text from stdin (end with Ctrl-D)") }
        var text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}

/// `--metadata`: any JSON value but null.
func parseMetadata(_ text: String?) throws -> JSONValue? {
    guard let text else { return nil }
    let value = try parseJSON(text, what: "--metadata")
    if value.isNull { throw ValidationError("--metadata must not be null (give {} for empty metadata)") }
    return value
}

func checkLabel(_ label: String) throws {
    try checkKey(label, field: "label")
}

/// `"label"` quoted for messages.
private func quoted(_ label: String) -> String { label.debugDescription }

/// Checks the LABEL and AGENT of `block attach` and `block detach`.
private func checkBlockAgent(label: String, agent: String) throws {
    try checkLabel(label)
    try checkKey(agent, field: "agent")
}

/// Runs `block.attach` or `block.detach` on the block LABEL and the agent, then prints `done`.
private func callBlockAgent(
    _ method: (some BlockAttachment).Type, global: GlobalOptions, namespace: NamespaceOptions, label: String, agent: String,
    done: String
) async throws {
    let ns = try namespace.namespace()
    try await Session.run(global) { session in
        try await session.call(method.init(ns, label: label, agent: agent, reason: nil, requestID: nil)) { _ in
            Output.line(done)
        }
    }
}

struct BlockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "block",
        abstract: "Shared memory blocks: labelled text that agents edit in place and read as context.",
        discussion: """
            A block lives in a namespace (--tenant, --task, --role) under its label. Edits (insert, \
            replace, rethink, update) apply to the text as stored when they commit, are checked \
            against the block's character limit (limit_exceeded) and its read-only flag (read_only; \
            an admin token may edit read-only blocks), and print the new version. Attach a block to \
            agents to make it part of their context (cairn context AGENT).

            TEXT and VALUE that start with '-' go after `--`: cairn block insert notes -- "- a bullet".
            """,
        subcommands: [
            Create.self, Get.self, Insert.self, Replace.self, Rethink.self, Update.self, Delete.self, List.self,
            Attach.self, Detach.self, Agents.self,
        ])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a block, optionally attached to agents (a label already in use exits 4).",
            discussion: "Example: cairn block create persona \"You are terse.\" --description \"How to answer\" --limit 2000 --agent agent-1")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var namespace: NamespaceOptions

        @Argument(help: "The block's label (its key).")
        var label: String

        @Argument(help: ArgumentHelp("The block's text (default: empty).", valueName: "value"))
        var value: String?

        @Flag(name: .customLong("from-stdin"), help: "Read the text from stdin (less one trailing newline) instead of VALUE.")
        var fromStdin = false

        @Option(help: ArgumentHelp("What the block is for, shown to agents with it.", valueName: "text"))
        var description: String?

        @Option(help: ArgumentHelp("The most characters the text may hold (the server's default is 5000).", valueName: "n"))
        var limit: Int?

        @Flag(name: .customLong("read-only"), help: "Only a token with the admin grant may edit it.")
        var readOnly = false

        @Option(help: ArgumentHelp("Any JSON value kept beside the text.", valueName: "json"))
        var metadata: String?

        @Option(
            name: .customLong("agent"),
            help: ArgumentHelp("Attach the block to this agent (the option may repeat).", valueName: "id"))
        var agents: [String] = []

        @Option(help: reasonHelp)
        var reason: String?

        func validate() throws {
            try checkLabel(label)
            try BlockInput.check(value, fromStdin: fromStdin, name: "VALUE", required: false)
            try checkMinimum(limit, 1, flag: "--limit")
            _ = try parseMetadata(metadata)
            for agent in agents { try checkKey(agent, field: "agent") }
        }

        func run() async throws {
            let ns = try namespace.namespace()
            let text = BlockInput.read(value, fromStdin: fromStdin) ?? ""
            let metadata = try parseMetadata(self.metadata)
            try await Session.run(global) { session in
                let create = RPC.BlockCreate(
                    ns, label: label, value: text, description: description, limit: limit ?? RPC.BlockCreate.defaultLimit,
                    readOnly: readOnly, metadata: metadata, agents: agents, reason: reason)
                try await session.call(create) { result in
                    var text = "created block \(quoted(label)) at version \(Output.version(result))"
                    if !agents.isEmpty { text += ", attached to \(agents.joined(separator: ", "))" }
                    Output.line(text)
                }
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a block's text, then its version, size, limit and author.",
            discussion: "Exits with status 3 when there is no such block.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var namespace: NamespaceOptions

        @Argument(help: "The block's label.")
        var label: String

        @Option(help: ArgumentHelp("Read this past version (if history still keeps it).", valueName: "n"))
        var version: Int?

        @Flag(help: "Print only the text.")
        var raw = false

        func validate() throws {
            try checkLabel(label)
            try checkMinimum(version, 1, flag: "--version")
            if raw, global.json { throw ValidationError("--raw and --json exclude each other") }
        }

        func run() async throws {
            let ns = try namespace.namespace()
            try await Session.run(global) { session in
                try await session.call(RPC.BlockGet(ns, label: label, version: version)) { block in
                    Output.line(block["value"]?.stringValue ?? "")
                    if raw { return }
                    var meta = [
                        "version \(Output.version(block))", "\(Output.charsAndLimit(block)) chars",
                        block["read_only"]?.boolValue == true ? "read-only" : "writable",
                    ]
                    if let by = block["updated_by"]?.stringValue { meta.append("updated_by \(by)") }
                    if let agent = block["agent"]?.stringValue { meta.append("agent \(agent)") }
                    if let at = block["updated_at"]?.stringValue { meta.append("updated_at \(at)") }
                    Output.line("-- " + meta.joined(separator: ", "))
                    if let description = block["description"]?.stringValue {
                        Output.line("-- description: " + Output.cell(description, limit: 200))
                    }
                }
            }
        }
    }

    struct Insert: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Insert text as new line(s) into a block's current text.",
            discussion: """
                --line K puts TEXT after line K (1-based); 0 puts it on top, -1 (the default) at the \
                end. Into an empty block the text becomes exactly TEXT. Needs the append or write grant.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var namespace: NamespaceOptions

        @Argument(help: "The block's label.")
        var label: String

        @Argument(help: ArgumentHelp("The text to insert.", valueName: "text"))
        var text: String?

        @Flag(name: .customLong("from-stdin"), help: "Read the text from stdin (less one trailing newline) instead of TEXT.")
        var fromStdin = false

        @Option(
            parsing: .unconditional,
            help: ArgumentHelp("Insert after this line: 0 top, -1 end (default -1).", valueName: "k"))
        var line: Int?

        @OptionGroup var attribution: AttributionOptions

        func validate() throws {
            try checkLabel(label)
            try BlockInput.check(text, fromStdin: fromStdin, name: "TEXT", required: true)
            if let line, line < -1 { throw ValidationError("--line must be -1 (end), 0 (top) or a line number") }
        }

        func run() async throws {
            let ns = try namespace.namespace()
            let text = BlockInput.read(text, fromStdin: fromStdin) ?? ""
            try await Session.run(global) { session in
                let insert = RPC.BlockInsert(
                    ns, label: label, text: text, line: line ?? RPC.BlockInsert.defaultLine, reason: attribution.reason,
                    agent: attribution.agent)
                try await session.call(insert) { result in
                    Output.line("inserted into \(quoted(label)) at version \(Output.version(result))")
                }
            }
        }
    }

    struct Replace: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace the one occurrence of OLD in a block's current text with NEW.",
            discussion: """
                OLD must occur exactly once: no occurrence fails with no_match, several with \
                ambiguous_match and the lines where they start (exit 1). NEW may be "" to delete OLD.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var namespace: NamespaceOptions

        @Argument(help: "The block's label.")
        var label: String

        @Argument(help: ArgumentHelp("The text to replace (not empty).", valueName: "old"))
        var old: String

        @Argument(help: ArgumentHelp("What replaces it (\"\" deletes it).", valueName: "new"))
        var new: String

        @OptionGroup var attribution: AttributionOptions

        func validate() throws {
            try checkLabel(label)
            if old.isEmpty { throw ValidationError("OLD must not be empty; to add text use `cairn block insert`") }
        }

        func run() async throws {
            let ns = try namespace.namespace()
            try await Session.run(global) { session in
                let replace = RPC.BlockReplace(
                    ns, label: label, old: old, new: new, reason: attribution.reason, agent: attribution.agent)
                try await session.call(replace) { result in
                    Output.line("replaced in \(quoted(label)) at version \(Output.version(result))")
                }
            }
        }
    }

    struct Rethink: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rewrite a block's whole text (last writer wins unless --if-version).")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var namespace: NamespaceOptions

        @Argument(help: "The block's label.")
        var label: String

        @Argument(help: ArgumentHelp("The new text.", valueName: "value"))
        var value: String?

        @Flag(name: .customLong("from-stdin"), help: "Read the text from stdin (less one trailing newline) instead of VALUE.")
        var fromStdin = false

        @Option(
            name: .customLong("if-version"),
            help: ArgumentHelp("Rewrite only if the current version is n.", valueName: "n"))
        var ifVersion: Int?

        @OptionGroup var attribution: AttributionOptions

        func validate() throws {
            try checkLabel(label)
            try BlockInput.check(value, fromStdin: fromStdin, name: "VALUE", required: true)
            try checkMinimum(ifVersion, 1, flag: "--if-version")
        }

        func run() async throws {
            let ns = try namespace.namespace()
            let text = BlockInput.read(value, fromStdin: fromStdin) ?? ""
            try await Session.run(global) { session in
                let rethink = RPC.BlockRethink(
                    ns, label: label, value: text, ifVersion: ifVersion, reason: attribution.reason, agent: attribution.agent)
                try await session.call(rethink) { result in
                    Output.line("rewrote \(quoted(label)) at version \(Output.version(result))")
                }
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a block's text and/or properties.",
            discussion: """
                --value replaces the whole text; --description "" removes the description. Changing \
                --limit or --read-only needs the admin grant (else forbidden, exit 6). Changing nothing \
                writes nothing and prints the current version.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var namespace: NamespaceOptions

        @Argument(help: "The block's label.")
        var label: String

        @Option(help: ArgumentHelp("The new text.", valueName: "text"))
        var value: String?

        @Option(help: ArgumentHelp("The new description (\"\" removes it).", valueName: "text"))
        var description: String?

        @Option(help: ArgumentHelp("The new character limit.", valueName: "n"))
        var limit: Int?

        @Option(name: .customLong("read-only"), help: ArgumentHelp("Make it read-only, or not.", valueName: "true|false"))
        var readOnly: Bool?

        @Option(help: ArgumentHelp("New metadata: any JSON value (replaces the old).", valueName: "json"))
        var metadata: String?

        @Option(
            name: .customLong("if-version"),
            help: ArgumentHelp("Update only if the current version is n.", valueName: "n"))
        var ifVersion: Int?

        @OptionGroup var attribution: AttributionOptions

        func validate() throws {
            try checkLabel(label)
            try checkMinimum(limit, 1, flag: "--limit")
            try checkMinimum(ifVersion, 1, flag: "--if-version")
            _ = try parseMetadata(metadata)
            if value == nil, description == nil, limit == nil, readOnly == nil, metadata == nil {
                throw ValidationError("nothing to update: give --value, --description, --limit, --read-only or --metadata")
            }
        }

        func run() async throws {
            let ns = try namespace.namespace()
            let metadata = try parseMetadata(self.metadata)
            try await Session.run(global) { session in
                let update = RPC.BlockUpdate(
                    ns, label: label, value: value, description: description, limit: limit, readOnly: readOnly, metadata: metadata,
                    ifVersion: ifVersion, reason: attribution.reason, agent: attribution.agent)
                try await session.call(update) { result in
                    Output.line("updated \(quoted(label)) at version \(Output.version(result))")
                }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a block and detach it from every agent (deleting an absent block is not an error).")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var namespace: NamespaceOptions

        @Argument(help: "The block's label.")
        var label: String

        @Option(
            name: .customLong("if-version"),
            help: ArgumentHelp("Delete only if the current version is n.", valueName: "n"))
        var ifVersion: Int?

        @Option(help: reasonHelp)
        var reason: String?

        func validate() throws {
            try checkLabel(label)
            try checkMinimum(ifVersion, 0, flag: "--if-version")
        }

        func run() async throws {
            let ns = try namespace.namespace()
            try await Session.run(global) { session in
                try await session.call(RPC.BlockDelete(ns, label: label, ifVersion: ifVersion, reason: reason)) { result in
                    if result["existed"]?.boolValue == true {
                        Output.line("deleted block \(quoted(label)) at version \(Output.version(result))")
                    } else {
                        Output.line("no block \(quoted(label)): nothing deleted")
                    }
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List the blocks of a scope, by label.", aliases: ["list"])

        @OptionGroup var global: GlobalOptions
        @OptionGroup var scope: ScopeOptions

        @Option(
            name: .customLong("label-search"),
            help: ArgumentHelp("Only labels containing this text (case-insensitive).", valueName: "text"))
        var labelSearch: String?

        @Option(help: ArgumentHelp("At most n blocks (1–1000; the server's default is 50).", valueName: "n"))
        var limit: Int?

        @Option(help: ArgumentHelp("Skip the first n blocks.", valueName: "n"))
        var offset: Int?

        func validate() throws { try checkPage(limit: limit, offset: offset) }

        func run() async throws {
            let scope = try scope.scope()
            try await Session.run(global) { session in
                let list = RPC.BlockList(
                    scope, labelSearch: labelSearch, limit: limit ?? RPC.BlockList.defaultLimit, offset: offset ?? 0)
                try await session.call(list) { result in
                    let blocks = result["blocks"]?.arrayValue ?? []
                    guard !blocks.isEmpty else {
                        return Output.note(labelSearch == nil ? "no blocks in this scope" : "no block labels match")
                    }
                    var table = Table(
                        headers: ["TASK", "ROLE", "LABEL", "VERSION", "CHARS", "READ_ONLY", "UPDATED_AT", "UPDATED_BY", "DESCRIPTION"])
                    for b in blocks {
                        table.rows.append([
                            Output.optional(b["ns"]?["task"]), Output.optional(b["ns"]?["role"]), Output.optional(b["key"]),
                            Output.version(b), Output.charsAndLimit(b),
                            b["read_only"]?.boolValue == true ? "yes" : "no", Output.optional(b["updated_at"]),
                            Output.optional(b["updated_by"]), Output.optional(b["description"]),
                        ])
                    }
                    Output.line(table.render())
                    noteMoreMayFollow(shown: blocks.count, limit: limit, defaultLimit: RPC.BlockList.defaultLimit, offset: offset)
                }
            }
        }
    }

    struct Attach: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Attach a block to an agent, making it part of the agent's context.",
            discussion: """
                Attaching twice is a no-op. An agent that already has another block with the same \
                label (from another namespace) refuses it with label_taken (exit 4).
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var namespace: NamespaceOptions

        @Argument(help: "The block's label.")
        var label: String

        @Argument(help: ArgumentHelp("The agent to attach it to.", valueName: "agent"))
        var agent: String

        func validate() throws { try checkBlockAgent(label: label, agent: agent) }

        func run() async throws {
            try await callBlockAgent(
                RPC.BlockAttach.self, global: global, namespace: namespace, label: label, agent: agent,
                done: "attached \(quoted(label)) to \(agent)")
        }
    }

    struct Detach: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Detach a block from an agent.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var namespace: NamespaceOptions

        @Argument(help: "The block's label.")
        var label: String

        @Argument(help: ArgumentHelp("The agent to detach it from.", valueName: "agent"))
        var agent: String

        func validate() throws { try checkBlockAgent(label: label, agent: agent) }

        func run() async throws {
            try await callBlockAgent(
                RPC.BlockDetach.self, global: global, namespace: namespace, label: label, agent: agent,
                done: "detached \(quoted(label)) from \(agent)")
        }
    }

    struct Agents: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the agents a block is attached to, one a line.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var namespace: NamespaceOptions

        @Argument(help: "The block's label.")
        var label: String

        func validate() throws { try checkLabel(label) }

        func run() async throws {
            let ns = try namespace.namespace()
            try await Session.run(global) { session in
                try await session.call(RPC.BlockAgents(ns, label: label)) { result in
                    let agents = result["agents"]?.arrayValue?.compactMap(\.stringValue) ?? []
                    guard !agents.isEmpty else { return Output.note("\(quoted(label)) is attached to no agent") }
                    for agent in agents { Output.line(agent) }
                }
            }
        }
    }
}

struct Context: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print an agent's context: every block attached to it, rendered for a prompt.",
        discussion: """
            The blocks are read at one consistent moment. --json prints the whole result: \
            {"blocks":[…],"rendered":"…","omitted":n}. Blocks outside a narrowed token's scope are \
            left out (a note on stderr counts them).
            """)

    @OptionGroup var global: GlobalOptions

    @OptionGroup var tenant: TenantOptions

    @Argument(help: ArgumentHelp("The agent.", valueName: "agent"))
    var agent: String

    func validate() throws { try checkKey(agent, field: "agent") }

    func run() async throws {
        let tenant = try tenant.resolved()
        try await Session.run(global) { session in
            try await session.call(RPC.AgentContext(tenant: tenant, agent: agent)) { result in
                Output.line(result["rendered"]?.stringValue ?? "")
                if let omitted = result["omitted"]?.intValue, omitted > 0 {
                    Output.note("\(omitted) attached block(s) outside this token's scope left out")
                }
            }
        }
    }
}
