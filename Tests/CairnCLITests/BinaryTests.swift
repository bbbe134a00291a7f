import CairnProtocol
import CairnServer
import CairnTestSupport
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// The `cairnd` and `cairn` executables themselves: `--version`, and what a taken port says.
@Suite struct BinaryTests {
    /// The built `cairnd`, beside the `cairn` the CLI tests use.
    static var cairnd: URL? {
        CLI.executable.map { $0.deletingLastPathComponent().appendingPathComponent("cairnd") }
    }

    /// Runs `executable arguments…` with no `CAIRN_*` variables but `environment`; killed (and the
    /// test failed) if it runs longer than `timeout` seconds.
    static func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], timeout: Double = 30) async throws -> CLIResult {
        try await CLI.run(executable, arguments, environment: CLI.environment(token: nil, environment), timeout: timeout)
    }

    /// A listening socket on a loopback port, as another program holding the port would have.
    static func occupiedPort() async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    }

    @Test func bothBinariesSayTheirVersion() async throws {
        let expected = "\(ProtocolInfo.serverVersion) (protocol \(ProtocolInfo.protocolVersion))\n"
        let cairn = try #require(CLI.executable)
        let client = try await Self.run(cairn, ["--version"])
        #expect(client.status == 0, "\(client)")
        #expect(client.stdout == "cairn \(expected)")
        let server = try await Self.run(try #require(Self.cairnd), ["--version"])
        #expect(server.status == 0, "\(server)")
        #expect(server.stdout == "cairnd \(expected)")
    }

    @Test func aTakenPortIsReportedWithItsAddressAndTheFlag() async throws {
        let taken = try await Self.occupiedPort()
        defer { taken.close(promise: nil) }
        let port = try #require(taken.localAddress?.port)
        let result = try await Self.run(
            try #require(Self.cairnd),
            ["--listen", "127.0.0.1:\(port)", "--redis-url", TestRedis.url, "--auth", "none", "--metrics-listen", "off"])
        #expect(result.status != 0, "\(result)")
        #expect(result.stderr.contains("cannot listen on 127.0.0.1:\(port): the address is already in use"), "\(result)")
        #expect(result.stderr.contains("--listen host:port (or CAIRN_LISTEN)"), "\(result)")
        #expect(!result.stderr.contains("cairnd listening"), "\(result)")
    }

    @Test func aTakenMetricsPortIsReportedBeforeAnythingSaysItListens() async throws {
        let taken = try await Self.occupiedPort()
        defer { taken.close(promise: nil) }
        let port = try #require(taken.localAddress?.port)
        let result = try await Self.run(
            try #require(Self.cairnd),
            ["--listen", "127.0.0.1:0", "--redis-url", TestRedis.url, "--auth", "none", "--metrics-listen", "127.0.0.1:\(port)"])
        #expect(result.status != 0, "\(result)")
        #expect(result.stderr.contains("cannot listen on 127.0.0.1:\(port): the address is already in use"), "\(result)")
        #expect(result.stderr.contains("--metrics-listen host:port (or CAIRN_METRICS_LISTEN)"), "\(result)")
        #expect(!result.stderr.contains("cairnd listening"), "\(result)")
    }

    @Test func healthSaysReadyOrNotWithTheReasons() async throws {
        let problems = ProblemsBox()
        let metrics = try await MetricsServer.bind(
            host: "127.0.0.1", port: 0, metrics: ServerMetrics(), readiness: { Readiness(problems: problems.value) })
        defer { metrics.close() }
        let cairn = try #require(CLI.executable)
        let url = "http://127.0.0.1:\(metrics.port)"

        // A generous --timeout: this test is about the answers (the deadline has a test of its own),
        // and a busy machine may take seconds to schedule the readiness check.
        let ready = try await Self.run(cairn, ["health", "--metrics-url", url, "--timeout", "60"])
        #expect(ready.status == 0, "\(ready)")
        #expect(ready.stdout == "ready (\(url)/health/ready)\n")

        problems.value = ["redis at 127.0.0.1:6379: connection refused"]
        let notReady = try await Self.run(cairn, ["health", "--timeout", "60"], environment: ["CAIRN_METRICS_URL": url])
        #expect(notReady.status == 5, "\(notReady)")
        #expect(notReady.stderr.contains("answered 503: not ready:\n- redis at 127.0.0.1:6379: connection refused"), "\(notReady)")
        // Liveness does not depend on Redis.
        let live = try await Self.run(cairn, ["health", "--live", "--metrics-url", url, "--timeout", "60"])
        #expect(live.status == 0, "\(live)")
        #expect(live.stdout == "live (\(url)/health/live)\n")
    }

    @Test func healthGivesUpOnASilentListener() async throws {
        let silent = try await Self.occupiedPort()  // accepts, never answers
        defer { silent.close(promise: nil) }
        let port = try #require(silent.localAddress?.port)
        let started = ContinuousClock.now
        let result = try await Self.run(try #require(CLI.executable), ["health", "--metrics-url", "http://127.0.0.1:\(port)", "--timeout", "0.5"])
        #expect(result.status == 5, "\(result)")
        #expect(result.stderr.contains("no answer from http://127.0.0.1:\(port)/health/ready: no answer within 0.5 s (--timeout)"), "\(result)")
        #expect(ContinuousClock.now - started < .seconds(20))
        let bad = try await Self.run(try #require(CLI.executable), ["health", "--metrics-url", "127.0.0.1:9420"])
        #expect(bad.status == 64, "\(bad)")
    }
}

/// What the stub readiness check answers, changed by the test between runs.
final class ProblemsBox: Sendable {
    private let problems = Mutex<[String]>([])
    var value: [String] {
        get { problems.withLock { $0 } }
        set { problems.withLock { $0 = newValue } }
    }
}
