import ArgumentParser
import CairnCore
import CairnProtocol
import Foundation

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Create, list and revoke a tenant's tokens (needs an admin token).",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Mint a token; its secret is printed this once.",
            discussion: "Example: cairn token create --tenant acme --principal worker-1 --grants read,write --task task-42")

        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("The tenant the token is for (required; default: $CAIRN_TENANT).", valueName: "tenant"))
        var tenant: String?

        @Option(help: ArgumentHelp("Who the token stands for, recorded with every write it makes.", valueName: "principal"))
        var principal: String

        @Option(
            help: ArgumentHelp(
                "What it may do, comma-separated: read, append, write, admin (the option may repeat).",
                valueName: "grants"))
        var grants: [String] = []

        @Option(help: ArgumentHelp("Limit the token to this task.", valueName: "task"))
        var task: String?

        @Option(help: ArgumentHelp("Limit the token to this role.", valueName: "role"))
        var role: String?

        var grantList: [String] {
            grants.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }

        func validate() throws {
            let tenant = try resolveTenant(tenant)
            _ = try usage { () throws(CairnError) in try Namespace(tenant: tenant, task: task, role: role) }
            try checkKey(principal, field: "principal")
            guard !grantList.isEmpty else { throw ValidationError("missing --grants (read, append, write, admin)") }
        }

        func run() async throws {
            let tenant = try resolveTenant(tenant)
            let create = RPC.TokenCreate(tenant: tenant, principal: principal, grants: grantList, task: task, role: role)
            try await Session.run(global) { session in
                try await session.call(create) { result in
                    var table = Table(headers: ["token", Output.plain(result["token"] ?? .null)])
                    table.rows.append(["token_id", Output.plain(result["token_id"] ?? .null)])
                    Output.line(table.render())
                    Output.note("the secret is shown only this once; keep it now")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "List a tenant's tokens (never their secrets).", aliases: ["ls"])

        @OptionGroup var global: GlobalOptions

        @OptionGroup var tenant: TenantOptions

        func run() async throws {
            let tenant = try tenant.resolved()
            try await Session.run(global) { session in
                try await session.call(RPC.TokenList(tenant: tenant)) { result in
                    let tokens = result["tokens"]?.arrayValue ?? []
                    guard !tokens.isEmpty else { return Output.note("no tokens for tenant \(tenant)") }
                    var table = Table(headers: ["TOKEN_ID", "PRINCIPAL", "GRANTS", "SCOPE", "CREATED_AT"])
                    for t in tokens {
                        let grants = t["grants"]?.arrayValue?.compactMap(\.stringValue).joined(separator: ",") ?? "-"
                        var scope: [String] = []
                        if let task = t["scope"]?["task"]?.stringValue { scope.append("task=\(task)") }
                        if let role = t["scope"]?["role"]?.stringValue { scope.append("role=\(role)") }
                        table.rows.append([
                            Output.optional(t["token_id"]), Output.optional(t["principal"]), grants,
                            scope.isEmpty ? "-" : Output.cell(scope.joined(separator: " ")), Output.optional(t["created_at"]),
                        ])
                    }
                    Output.line(table.render())
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a token by its id; connections using it fail from their next request.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: ArgumentHelp("The token_id that token create printed.", valueName: "token-id"))
        var tokenID: String

        func run() async throws {
            try await Session.run(global) { session in
                try await session.call(RPC.TokenRevoke(tokenID: tokenID)) { _ in
                    Output.line("revoked \(tokenID)")
                }
            }
        }
    }
}
