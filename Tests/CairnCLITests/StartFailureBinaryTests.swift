import CairnTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A `cairnd` whose start fails half-way leaves nothing it started behind.
@Suite struct StartFailureBinaryTests {
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
        // "embedded redis-server started on 127.0.0.1:PORT (pid N, …": that process is gone.
        let started = try #require(result.stderr.range(of: "(pid "), "\(result)")
        let digits = result.stderr[started.upperBound...].prefix { $0.isNumber }
        let pid = try #require(Int32(digits), "\(result)")
        #expect(result.stderr.contains("embedded redis-server stopped"), "\(result)")
        await eventually(30) { kill(pid, 0) != 0 && errno == ESRCH }
    }
}
