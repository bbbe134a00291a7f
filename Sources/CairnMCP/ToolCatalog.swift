import MCP

/// The tools' names, descriptions and input schemas, written for the model that calls them.
enum ToolCatalog {
    static let context = "memory_context"
    static let insert = "memory_insert"
    static let replace = "memory_replace"
    static let rethink = "memory_rethink"
    static let createBlock = "memory_create_block"
    static let put = "memory_put"
    static let get = "memory_get"
    static let search = "memory_search"
    static let history = "memory_history"

    private static func schema(_ properties: [String: Value], required: [String] = []) -> Value {
        .object([
            "type": "object",
            "properties": .object(properties),
            "required": .array(required.map { .string($0) }),
            "additionalProperties": false,
        ])
    }

    private static func string(_ description: String, minLength: Int = 1) -> Value {
        .object(["type": "string", "description": .string(description), "minLength": .int(minLength)])
    }

    private static func integer(_ description: String, minimum: Int? = nil) -> Value {
        var o: [String: Value] = ["type": "integer", "description": .string(description)]
        if let minimum { o["minimum"] = .int(minimum) }
        return .object(o)
    }

    private static func boolean(_ description: String) -> Value {
        .object(["type": "boolean", "description": .string(description)])
    }

    private static func anyJSON(_ description: String) -> Value {
        .object(["description": .string(description)])
    }

    static let label = string("The label of one of your memory blocks (memory_context lists them).")
    static let task = string("Another task's namespace for this call instead of the session's (with `role` if given; a part not given is absent).")
    static let role = string("Another role's namespace for this call instead of the session's (with `task` if given; a part not given is absent).")

    static let all: [Tool] = [
        Tool(
            name: context,
            description: """
                Read all your memory blocks at one consistent moment: each block's label, description, \
                text, size/limit, read-only flag and version. Call it first, and again whenever an edit \
                fails because the text changed. Other agents may share these blocks and edit them at any time.
                """,
            inputSchema: schema([:]),
            annotations: .init(readOnlyHint: true, openWorldHint: false)),
        Tool(
            name: insert,
            description: """
                Add text to a memory block as new line(s) — safe when other agents write at the same time: \
                it is applied to the block as it is at that moment, so concurrent inserts all land and \
                none overwrites another. Prefer this for appending notes and findings. `line`: -1 (default) \
                appends at the end, 0 inserts at the top, k inserts after line k.
                """,
            inputSchema: schema([
                "label": label,
                "text": string("The text to add (may span several lines).", minLength: 0),
                "line": integer("-1 = end (default), 0 = top, k = after line k (1-based).", minimum: -1),
            ], required: ["label", "text"]),
            annotations: .init(readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false)),
        Tool(
            name: replace,
            description: """
                Replace one exact piece of a memory block's text with new text (empty `new` deletes it). \
                `old` must occur exactly once in the block's CURRENT text. If another agent changed that \
                text meanwhile this fails with no_match instead of overwriting their change: read the block \
                again (memory_context) and retry with its current text. Never fails silently.
                """,
            inputSchema: schema([
                "label": label,
                "old": string("The exact text to replace, copied from the block; must occur exactly once."),
                "new": string("The replacement text; empty to delete `old`.", minLength: 0),
            ], required: ["label", "old", "new"]),
            annotations: .init(readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false)),
        Tool(
            name: rethink,
            description: """
                Rewrite a memory block's whole text (to reorganise or condense it). On a block shared with \
                other agents, give `if_version` — the version you read with memory_context — so that if \
                anyone wrote since, this fails with version_conflict instead of erasing their work; then \
                re-read, merge, and retry with the new version. Without `if_version` it is only allowed on \
                a block no other agent holds. For small edits prefer memory_insert or memory_replace.
                """,
            inputSchema: schema([
                "label": label,
                "value": string("The block's complete new text.", minLength: 0),
                "if_version": integer("Write only if the block is still at this version (from memory_context).", minimum: 1),
            ], required: ["label", "value"]),
            annotations: .init(readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false)),
        Tool(
            name: createBlock,
            description: """
                Create a new memory block in your namespace and attach it to you, so it appears in \
                memory_context. Fails with label_taken if you already have a block with that label and \
                with version_conflict if the block exists in this namespace (then it belongs to others).
                """,
            inputSchema: schema([
                "label": string("A short name for the block, unique among your blocks."),
                "value": string("Its initial text (default empty).", minLength: 0),
                "description": string("What the block is for, shown with it.", minLength: 0),
                "limit": integer("Most characters it may hold (default 5000).", minimum: 1),
                "read_only": boolean("Whether agents may edit it (default false: editable)."),
            ], required: ["label"]),
            annotations: .init(readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false)),
        Tool(
            name: put,
            description: """
                Store a JSON value under a key (a record, not a block), replacing what is there. To avoid \
                overwriting another agent's write, give `if_version`: 0 = only if the key is absent, n = only \
                if it is still at version n (from memory_get); a mismatch fails with version_conflict.
                """,
            inputSchema: schema([
                "key": string("The key."),
                "value": anyJSON("Any JSON value except null (an object, array, string, number or boolean)."),
                "if_version": integer("0 = only if absent; n = only if the current version is n.", minimum: 0),
                "task": task, "role": role,
            ], required: ["key", "value"]),
            annotations: .init(readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false)),
        Tool(
            name: get,
            description: "Read the value stored under a key, with its version and who wrote it; `item` is null when the key is absent.",
            inputSchema: schema(["key": string("The key."), "task": task, "role": role], required: ["key"]),
            annotations: .init(readOnlyHint: true, openWorldHint: false)),
        Tool(
            name: search,
            description: """
                Find stored items and blocks in the namespace: `query` ranks by text relevance, `filter` \
                matches fields of object values ({"status":"open","score":{"$gte":3}}; operators $eq $ne \
                $gt $gte $lt $lte), `semantic` ranks by meaning (when the server has an embedder).
                """,
            inputSchema: schema([
                "query": string("Words to look for (case-insensitive)."),
                "filter": .object(["type": "object", "description": "Dotted paths into object values; a plain value means $eq."]),
                "semantic": boolean("Rank `query` by meaning instead of words (needs an embedder on the server)."),
                "limit": integer("Most results (default 10, at most 1000).", minimum: 1),
                "task": task, "role": role,
            ]),
            annotations: .init(readOnlyHint: true, openWorldHint: false)),
        Tool(
            name: history,
            description: """
                Who changed something, when, how and why, newest first: give exactly one of `label` (one of \
                your blocks) or `key` (a stored item, with `task`/`role` for another namespace).
                """,
            inputSchema: schema(["label": label, "key": string("The key of a stored item."), "task": task, "role": role]),
            annotations: .init(readOnlyHint: true, openWorldHint: false)),
    ]
}
