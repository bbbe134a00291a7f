import ArgumentParser
import CairnProtocol

/// `cairn`: the command-line client of a `cairnd`.
@main
struct CairnCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cairn",
        abstract: "Read and write Cairn's shared memory from the shell.",
        discussion: """
            Connects to a cairnd (--url, or $CAIRN_URL, or cairn://127.0.0.1:7420) and \
            authenticates with the token in $CAIRN_TOKEN or in the file given by --token-file. \
            Commands that address an item or a block take --tenant (or $CAIRN_TENANT), --task and \
            --role; search, ls, log, watch and block ls take the same flags as a scope, where an omitted \
            --task/--role means "any" and --no-task/--no-role means "absent only".

            Output is a readable table or text by default; --json prints the server's JSON \
            result instead, one JSON value per line.

            EXIT STATUS
              0   success
              1   any other error (e.g. no_match, ambiguous_match, limit_exceeded, read_only)
              3   not found (get of an absent key; not_found, 4004, e.g. an absent block)
              4   conflict (version_conflict or label_taken, 4009)
              5   cannot reach the server, or its Redis is down (connection_failed, 5003)
              6   unauthenticated or forbidden (4001, 4003)
              64  usage error: bad flags or arguments, a VALUE or --filter that is not JSON

            Errors are printed on stderr as `cairn: <reason>: <message>`.
            """,
        version: "cairn \(ProtocolInfo.serverVersion) (protocol \(ProtocolInfo.protocolVersion))",
        subcommands: [
            Ping.self, Health.self, Get.self, Put.self, Delete.self, Search.self, List.self, History.self, Log.self, Watch.self,
            BlockCommand.self, Context.self, TokenCommand.self, Call.self, MCPCommand.self,
        ]
    )

    /// Runs the command line, after one check ArgumentParser cannot make: it reads any argument
    /// that starts with '-' as options, even text such as "- a bullet" (whose 'h' would even show
    /// the help and exit 0 with nothing written). No option is a single dash followed by white
    /// space, so such an argument before `--` is text meant as a value: a usage error that says how
    /// to give it.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let text = arguments.prefix(while: { $0 != "--" }).first(where: isDashedText) {
            let error = ValidationError(
                "\(String(text.prefix(40)).debugDescription) starts with '-', so it would be read as options: give it after `--` "
                    + "(cairn block insert notes -- \"- a bullet\"), or as --option=VALUE for an option's value")
            exit(withError: Output.usageError(error))
        }
        await main(nil)
    }

    static func isDashedText(_ argument: String) -> Bool {
        argument.hasPrefix("-") && !argument.hasPrefix("--") && argument.contains(where: \.isWhitespace)
    }
}
