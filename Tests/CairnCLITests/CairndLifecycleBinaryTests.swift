import CairnClient
import CairnCore
import CairnTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `cairnd`'s services end together: on `SIGTERM`, and when its start fails half-way; either
/// way nothing it started (its embedded redis-server) is left behind.
@Suite struct CairndLifecycleBinaryTests {
    /// The pid in "embedded redis-server started on 127.0.0.1:PORT (pid N, …".
    static func embeddedPID(in log: String) -> Int32? {
        guard let started = log.range(of: "embedded redis-server started on"), let pid = log[started.upperBound...].range(of: "(pid ")
        else { return nil }
        return Int32(log[pid.upperBound...].prefix { $0.isNumber })
    }

    @Test func sigtermShutsDownGracefullyAndStopsTheEmbeddedRedisServer() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-sigterm-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("cairnd-sigterm-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let output = try FileHandle(forWritingTo: log)
        defer { try? output.close() }
        let process = Process()
        process.executableURL = BinaryTests.cairnd
        process.arguments = ["--listen", "127.0.0.1:0", "--data-dir", data, "--auth", "none", "--metrics-listen", "127.0.0.1:0"]
        process.environment = CLI.environment(token: nil, [:])
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        defer {
            if process.isRunning { process.terminate() }
        }
        func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        var port: Int?
        await eventually(60) {
            let text = logText()
            guard let range = text.range(of: "listening on 127.0.0.1:") else { return false }
            port = Int(text[range.upperBound...].prefix { $0.isNumber })
            return port != nil
        }
        let listening = try #require(port, "cairnd did not say where it listens:\n\(logText())")
        let pid = try #require(Self.embeddedPID(in: logText()), "\(logText())")
        let client = try await CairnClient.connect(host: "127.0.0.1", port: listening)
        #expect(try await client.ping())

        kill(process.processIdentifier, SIGTERM)
        await eventually(60) { !process.isRunning }
        #expect(process.terminationStatus == 0, "\(logText())")
        let text = logText()
        #expect(text.contains("cairnd stopped: every connection closed"), "\(text)")
        #expect(text.contains("embedded redis-server stopped"), "\(text)")
        await expectError(.connectionFailed) { () throws(CairnError) in try await client.ping() }
        await client.close()
        await eventually(30) { kill(pid, 0) != 0 && errno == ESRCH }
    }

    @Test func aTakenMetricsPortStopsTheEmbeddedRedisServerToo() async throws {
        let taken = try await BinaryTests.occupiedPort()
        defer { taken.close(promise: nil) }
        let port = try #require(taken.localAddress?.port)
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-start-failure-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        // No Redis URL: cairnd starts its own redis-server, then fails to open the metrics port.
        let result = try await BinaryTests.run(
            try #require(BinaryTests.cairnd),
            ["--listen", "127.0.0.1:0", "--data-dir", data, "--auth", "none", "--metrics-listen", "127.0.0.1:\(port)"],
            timeout: 120)
        #expect(result.status != 0, "\(result)")
        #expect(result.stderr.contains("--metrics-listen host:port (or CAIRN_METRICS_LISTEN)"), "\(result)")
        #expect(!result.stderr.contains("cairnd listening"), "\(result)")
        // The redis-server it started is gone.
        let pid = try #require(Self.embeddedPID(in: result.stderr), "\(result)")
        #expect(result.stderr.contains("embedded redis-server stopped"), "\(result)")
        await eventually(30) { kill(pid, 0) != 0 && errno == ESRCH }
    }
}
