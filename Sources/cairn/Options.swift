import ArgumentParser
import CairnClient
import CairnCore
import Foundation

/// The process environment (a variable set to the empty string counts as unset).
func environment(_ name: String) -> String? {
    guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
    return value
}

/// Options every command takes: where the server is, how to authenticate, how to print.
struct GlobalOptions: ParsableArguments {
    static let defaultURL = "cairn://127.0.0.1:7420"

    @Option(help: ArgumentHelp("The server, cairn://HOST:PORT, or cairns://HOST:PORT for TLS (default: $CAIRN_URL, else \(defaultURL)).", valueName: "url"))
    var url: String?

    @Option(
        name: .customLong("tls-ca"),
        help: ArgumentHelp("PEM CA file that signs the server's certificate, for cairns:// (default: $CAIRN_TLS_CA, else the system's CAs).", valueName: "path"))
    var tlsCA: String?

    @Option(
        name: .customLong("tls-cert"),
        help: ArgumentHelp("PEM client certificate for a server that requires mutual TLS, with --tls-key (default: $CAIRN_TLS_CERT).", valueName: "path"))
    var tlsCert: String?

    @Option(
        name: .customLong("tls-key"),
        help: ArgumentHelp("PEM key of --tls-cert (default: $CAIRN_TLS_KEY).", valueName: "path"))
    var tlsKey: String?

    @Option(
        name: .customLong("token-file"),
        help: ArgumentHelp(
            "Read the token from this file (default: the token in $CAIRN_TOKEN). Tokens are never given on the command line.",
            valueName: "path"))
    var tokenFile: String?

    @Option(
        name: .customLong("connect-timeout"),
        help: ArgumentHelp(
            "Seconds to wait for the server to accept the connection and greet (default: $CAIRN_CONNECT_TIMEOUT, else 5).",
            valueName: "seconds"))
    var connectTimeout: Double?

    @Flag(help: "Machine output: the server's JSON result, one JSON value per line.")
    var json = false

    var resolvedURL: String { url ?? environment("CAIRN_URL") ?? Self.defaultURL }

    /// What a cairns:// connection trusts and shows (flags, else the environment).
    var tls: ClientTLSOptions {
        ClientTLSOptions(
            caFile: tlsCA ?? environment("CAIRN_TLS_CA"), certificateFile: tlsCert ?? environment("CAIRN_TLS_CERT"),
            keyFile: tlsKey ?? environment("CAIRN_TLS_KEY"))
    }

    /// --connect-timeout, else $CAIRN_CONNECT_TIMEOUT, else 5 s (checked in `validate`).
    var resolvedConnectTimeout: Duration { (try? ConnectTimeout.resolve(seconds: connectTimeout)) ?? ConnectTimeout.default }

    func validate() throws {
        do {
            _ = try ConnectTimeout.resolve(seconds: connectTimeout)
        } catch {
            throw ValidationError(error.message)
        }
        do {
            _ = try CairnClient.parse(url: resolvedURL)
        } catch {
            throw ValidationError("\(error.message) (from \(url == nil ? "$CAIRN_URL" : "--url"))")
        }
        _ = try token()
        if (tls.certificateFile == nil) != (tls.keyFile == nil) {
            throw ValidationError("a client certificate needs both --tls-cert and --tls-key (or CAIRN_TLS_CERT and CAIRN_TLS_KEY)")
        }
    }

    /// The token to authenticate with: the --token-file's content, else $CAIRN_TOKEN, else none.
    func token() throws -> String? {
        if let tokenFile {
            guard let data = FileManager.default.contents(atPath: tokenFile) else {
                throw ValidationError("cannot read the token file \(tokenFile)")
            }
            let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw ValidationError("the token file \(tokenFile) is empty") }
            return token
        }
        return environment("CAIRN_TOKEN")
    }
}

/// `--tenant`, or $CAIRN_TENANT; a usage error when neither is set.
func resolveTenant(_ tenant: String?) throws -> String {
    guard let tenant = tenant ?? environment("CAIRN_TENANT") else {
        throw ValidationError("missing --tenant (or set CAIRN_TENANT)")
    }
    return tenant
}

/// A usage error unless `value`, when given, is `least` or more: "<flag> must be <least> or more".
func checkMinimum(_ value: Int?, _ least: Int, flag: String) throws {
    if let value, value < least { throw ValidationError("\(flag) must be \(least) or more") }
}

/// The help of every `--tenant` that may come from $CAIRN_TENANT.
let tenantHelp = ArgumentHelp("The tenant (required; default: $CAIRN_TENANT).", valueName: "tenant")

/// The help of every `--reason`.
let reasonHelp = ArgumentHelp("Why, recorded in history and the audit log.", valueName: "text")

/// Turns a name rule broken on the client side into a usage error.
func usage<T>(_ body: () throws(CairnError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw ValidationError(error.message)
    }
}

/// A whole tenant: `--tenant`.
struct TenantOptions: ParsableArguments {
    @Option(help: tenantHelp)
    var tenant: String?

    func validate() throws { _ = try resolved() }

    /// `--tenant`, or $CAIRN_TENANT, checked as a namespace component.
    func resolved() throws -> String {
        let tenant = try resolveTenant(tenant)
        try usage { () throws(CairnError) in try Namespace.validateComponent(tenant, field: "tenant") }
        return tenant
    }
}

/// Where one item lives: `--tenant`, `--task`, `--role`.
struct NamespaceOptions: ParsableArguments {
    @Option(help: tenantHelp)
    var tenant: String?

    @Option(help: ArgumentHelp("The task of the namespace; omit for memory outside any task.", valueName: "task"))
    var task: String?

    @Option(help: ArgumentHelp("The role of the namespace; omit for memory outside any role.", valueName: "role"))
    var role: String?

    func validate() throws { _ = try namespace() }

    func namespace() throws -> Namespace {
        let tenant = try resolveTenant(tenant)
        return try usage { () throws(CairnError) in try Namespace(tenant: tenant, task: task, role: role) }
    }
}

/// A set of namespaces of one tenant: an omitted `--task`/`--role` matches any value or none,
/// `--no-task`/`--no-role` matches only namespaces without one.
struct ScopeOptions: ParsableArguments {
    @Option(help: tenantHelp)
    var tenant: String?

    @Option(help: ArgumentHelp("Only this task (default: any task, or none).", valueName: "task"))
    var task: String?

    @Option(help: ArgumentHelp("Only this role (default: any role, or none).", valueName: "role"))
    var role: String?

    @Flag(name: .customLong("no-task"), help: "Only namespaces without a task.")
    var noTask = false

    @Flag(name: .customLong("no-role"), help: "Only namespaces without a role.")
    var noRole = false

    func validate() throws { _ = try scope() }

    func scope() throws -> Scope {
        if task != nil, noTask { throw ValidationError("--task and --no-task exclude each other") }
        if role != nil, noRole { throw ValidationError("--role and --no-role exclude each other") }
        let tenant = try resolveTenant(tenant)
        let task: Scope.Match = noTask ? .absent : Scope.Match.equalsOrAny(self.task)
        let role: Scope.Match = noRole ? .absent : Scope.Match.equalsOrAny(self.role)
        return try usage { () throws(CairnError) in try Scope(tenant: tenant, task: task, role: role) }
    }
}

/// Parses a JSON argument; text that is not JSON is a usage error.
func parseJSON(_ text: String, what: String, hint: String = "") throws -> JSONValue {
    do {
        return try JSONValue(parsing: text)
    } catch {
        throw ValidationError("\(what) is not valid JSON (\(error))\(hint)")
    }
}

func checkKey(_ key: String, field: String = "key") throws {
    try usage { () throws(CairnError) in try Key.validate(key, field: field) }
}

func parseTime(_ text: String?, flag: String) throws -> Timestamp? {
    guard let text else { return nil }
    guard let time = Timestamp(rfc3339: text) else {
        throw ValidationError("\(flag) \(text.debugDescription) is not an RFC 3339 time such as 2026-11-22T10:00:00Z")
    }
    return time
}
