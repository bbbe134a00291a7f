import ArgumentParser

/// `cairn`: the command-line client of a `cairnd`.
@main
struct CairnCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cairn",
        abstract: "Read and write Cairn's shared memory from the shell.",
        discussion: """
            Connects to a cairnd (--url, or $CAIRN_URL, or cairn://127.0.0.1:7420) and \
            authenticates with the token in $CAIRN_TOKEN or in the file given by --token-file. \
            Commands that address an item take --tenant (or $CAIRN_TENANT), --task and --role; \
            search, ls and log take the same flags as a scope, where an omitted --task/--role \
            means "any" and --no-task/--no-role means "absent only".

            Output is a readable table or text by default; --json prints the server's JSON \
            result instead, one JSON value per line.

            EXIT STATUS
              0   success
              1   any other error
              3   not found (get of an absent key; not_found, 4004)
              4   conflict (version_conflict or label_taken, 4009)
              5   cannot reach the server, or its Redis is down (connection_failed, 5003)
              6   unauthenticated or forbidden (4001, 4003)
              64  usage error: bad flags or arguments, a VALUE or --filter that is not JSON

            Errors are printed on stderr as `cairn: <reason>: <message>`.
            """,
        subcommands: [
            Ping.self, Get.self, Put.self, Delete.self, Search.self, List.self, History.self, Log.self,
            TokenCommand.self, Call.self,
        ]
    )
}
