import ArgumentParser
import CairnClient
import CairnCore
import CairnProtocol
import Foundation

/// The exit statuses of `cairn` (documented in `cairn --help` and docs/cli.md).
enum ExitStatus {
    static let failure: Int32 = 1
    static let notFound: Int32 = 3
    static let conflict: Int32 = 4
    static let unreachable: Int32 = 5
    static let denied: Int32 = 6
    /// ArgumentParser's own code for usage errors (`ValidationError`).
    static let usage: Int32 = ExitCode.validationFailure.rawValue

    static func code(for reason: CairnError.Reason) -> Int32 {
        switch reason {
        case .notFound: notFound
        case .versionConflict, .labelTaken: conflict
        case .connectionFailed, .unavailable, .outcomeUnknown: unreachable
        case .unauthenticated, .forbidden: denied
        default: failure
        }
    }
}

/// One connection to the server for the length of one command.
struct Session {
    let client: CairnClient
    let options: GlobalOptions
    /// Who the token authenticated as (`auth`'s result), nil without a token.
    let identity: JSONValue?

    /// Connects, authenticates, runs `body` and closes. A `CairnError` from anywhere in it is
    /// printed as `cairn: <reason>: <message>` and becomes the matching exit status; other errors
    /// (usage errors, `ExitCode`) are left to ArgumentParser.
    static func run(_ options: GlobalOptions, _ body: (Session) async throws -> Void) async throws {
        let token: String?
        do {
            token = try options.token()
        } catch let error as ValidationError {
            throw Output.usageError(error)
        }
        do {
            let client = try await CairnClient.connect(url: options.resolvedURL, tls: options.tls, connectTimeout: options.resolvedConnectTimeout)
            do {
                var identity: JSONValue?
                if let token { identity = try await client.call(RPC.Auth(token: token)) }
                try await body(Session(client: client, options: options, identity: identity))
            } catch {
                await client.close()
                throw error
            }
            await client.close()
        } catch let error as CairnError {
            Output.error(error)
            if token == nil, error.reason == .unauthenticated {
                Output.note("no token given: set CAIRN_TOKEN or use --token-file")
            }
            throw ExitCode(ExitStatus.code(for: error.reason))
        }
    }

    /// Calls `method`; prints the result as JSON with `--json`, else hands it to `human`.
    func call(_ method: String, _ params: JSONValue, human: (JSONValue) throws -> Void) async throws {
        try show(try await client.call(method, params), human: human)
    }

    /// Sends `method`; prints the server's result as JSON with `--json`, else hands it to `human`.
    func call(_ method: some RPCMethod, human: (JSONValue) throws -> Void) async throws {
        try show(try await client.call(method), human: human)
    }

    private func show(_ result: JSONValue, human: (JSONValue) throws -> Void) throws {
        if options.json {
            Output.line(result.serialized())
        } else {
            try human(result)
        }
    }
}
