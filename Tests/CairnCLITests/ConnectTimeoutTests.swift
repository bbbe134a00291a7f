import Foundation
import NIOCore
import NIOPosix
import Testing

/// `--connect-timeout` and `CAIRN_CONNECT_TIMEOUT`: how long `cairn` waits for a greeting.
@Suite struct ConnectTimeoutTests {
    /// A listener that accepts connections and never says anything (not a cairnd).
    static func silentListener() async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    }

    @Test func theFlagBoundsTheWaitForHello() async throws {
        let silent = try await Self.silentListener()
        defer { silent.close(promise: nil) }
        let port = try #require(silent.localAddress?.port)
        // The harness sets CAIRN_CONNECT_TIMEOUT=60; the flag wins over it.
        let result = try await CLI.run(["get", "--tenant", "t", "k", "--url", "cairn://127.0.0.1:\(port)", "--connect-timeout", "0.4"])
        #expect(result.status != 0, "\(result)")
        #expect(result.stderr.contains("did not greet with hello within 0.4 seconds"), "\(result)")
    }

    @Test func theEnvironmentVariableBoundsTheWaitForHello() async throws {
        let silent = try await Self.silentListener()
        defer { silent.close(promise: nil) }
        let port = try #require(silent.localAddress?.port)
        let result = try await CLI.run(
            ["get", "--tenant", "t", "k", "--url", "cairn://127.0.0.1:\(port)"], environment: ["CAIRN_CONNECT_TIMEOUT": "0.4"])
        #expect(result.status != 0, "\(result)")
        #expect(result.stderr.contains("did not greet with hello within 0.4 seconds"), "\(result)")
    }

    @Test(arguments: [
        (["--connect-timeout", "0"], [String: String](), "--connect-timeout must be above 0"),
        (["--connect-timeout", "4000"], [:], "--connect-timeout must be above 0 and at most 3600 seconds"),
        ([], ["CAIRN_CONNECT_TIMEOUT": "soon"], "CAIRN_CONNECT_TIMEOUT must be a number of seconds"),
        ([], ["CAIRN_CONNECT_TIMEOUT": "-1"], "CAIRN_CONNECT_TIMEOUT must be above 0"),
    ])
    func badValuesAreUsageErrors(flags: [String], environment: [String: String], message: String) async throws {
        let result = try await CLI.run(["get", "--tenant", "t", "k", "--url", "cairn://127.0.0.1:1"] + flags, environment: environment)
        #expect(result.status == 64, "\(result)")
        #expect(result.stderr.contains(message), "\(result)")
    }
}
