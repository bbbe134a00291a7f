import Cairn
import CairnTestSupport
import Foundation
import NIOCore
import NIOPosix
import Testing

/// Runs every cairn-bench workload for a few hundred requests, through an in-process cairnd and
/// straight at the test Redis, so the tool cannot rot. Nothing here asserts on timing: only that
/// each workload runs, answers without errors and passes its own checks.
@Suite("cairn-bench smoke")
struct BenchSmokeTests {
    static let workloads = [
        "get", "put", "put-cas", "cas-contention", "block-insert-contention", "search", "event-latency", "idle-connections",
    ]
    /// Small enough to stay fast: 3 connections with 2 requests in flight on each.
    static let small = [
        "-c", "3", "-P", "2", "-n", "200", "--warmup", "0", "--keys", "50", "--search-items", "200",
        "--idle-connections", "20", "--no-progress",
    ]

    @Test func everyWorkloadThroughCairnd() async throws {
        try await withServer { server in
            let run = try await Bench.run(["all", "--url", server.url, "--json"] + Self.small, token: server.adminToken)
            try Self.expectAllPassed(run, mode: "cairn")
        }
    }

    @Test func everyWorkloadStraightAtRedis() async throws {
        let run = try await Bench.run(["all", "--raw", "--redis-url", TestRedis.url, "--json"] + Self.small)
        try Self.expectAllPassed(run, mode: "raw")
    }

    @Test func lostUpdatesFailLoudly() async throws {
        try await withServer { server in
            let run = try await Bench.run(
                ["cas-contention", "block-insert-contention", "--url", server.url, "-c", "2", "-n", "40", "--warmup", "0",
                 "--inject-lost-updates", "--no-progress"],
                token: server.adminToken)
            #expect(run.status == 1, "\(run)")
            #expect(run.stderr.contains("UPDATES LOST"), "\(run)")
            #expect(run.stderr.contains("MISSING"), "\(run)")
        }
    }

    @Test func hotWorkloadsThroughCairnClient() async throws {
        try await withServer { server in
            let run = try await Bench.run(
                ["get", "put", "put-cas", "--typed-client", "--url", server.url, "--json"] + Self.small, token: server.adminToken)
            try Self.expectAllPassed(run, mode: "cairn", workloads: ["get", "put", "put-cas"])
            for r in run.json?["results"]?.arrayValue ?? [] {
                #expect(r["notes"]?.arrayValue?.contains { $0.stringValue?.hasPrefix("client: CairnClient") == true } == true, "\(r)")
            }
        }
    }

    /// The line driver checks answers for real: a get answering null for a key it expected and
    /// an error answer (a put-cas with a wrong if_version) are failed requests.
    @Test func wrongAnswersFailTheLineDriver() async throws {
        try await withServer { server in
            let run = try await Bench.run(
                ["get", "put-cas", "--url", server.url, "-c", "2", "-n", "40", "--warmup", "0", "--keys", "10",
                 "--inject-wrong-requests", "--no-progress"],
                token: server.adminToken)
            #expect(run.status == 1, "\(run)")
            #expect(run.stderr.contains("FAILED get (cairn): 4 requests failed: get m"), "\(run)")
            #expect(run.stderr.contains("answered null, but the set-up wrote it"), "\(run)")
            #expect(run.stderr.contains("FAILED put-cas (cairn): 4 requests failed: version_conflict"), "\(run)")
        }
    }

    /// `-P` keeps that many requests in flight on each line-driver connection.
    @Test func depthPipelinesOnEachConnection() async throws {
        try await withServer { server in
            let run = try await Bench.run(
                ["get", "--url", server.url, "-c", "2", "-P", "8", "-n", "400", "--warmup", "0", "--keys", "20", "--json",
                 "--no-progress"],
                token: server.adminToken)
            try Self.expectAllPassed(run, mode: "cairn", workloads: ["get"])
            let result = run.json?["results"]?.arrayValue?.first
            #expect(result?["metrics"]?["max_in_flight_per_connection"]?.numberValue == 8, "\(run)")
        }
    }

    @Test func missingTokenIsExplained() async throws {
        try await withServer { server in
            let run = try await Bench.run(["get", "--url", server.url, "-n", "10"])
            #expect(run.status != 0)
            #expect(run.stderr.contains("CAIRN_TOKEN"), "\(run)")
        }
    }

    @Test func connectTimeoutBoundsTheWaitForAGreeting() async throws {
        // Accepts and never greets; the harness's 60 s CAIRN_CONNECT_TIMEOUT is overridden by the flag.
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        defer { silent.close(promise: nil) }
        let port = try #require(silent.localAddress?.port)
        let run = try await Bench.run(["get", "--url", "cairn://127.0.0.1:\(port)", "-n", "10", "--connect-timeout", "0.4"])
        #expect(run.status != 0, "\(run)")
        #expect(run.stderr.contains("within 0.4 seconds"), "\(run)")
        let bad = try await Bench.run(["get", "--url", "cairn://127.0.0.1:\(port)", "--connect-timeout", "0"])
        #expect(bad.status == 64 && bad.stderr.contains("--connect-timeout must be above 0"), "\(bad)")
    }

    @Test func reportComparesRawWithCairnd() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func file(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let options = ["-c", "2", "-n", "100", "--warmup", "0", "--keys", "20", "--no-progress", "--json"]
        try await withServer { server in
            let raw = try await Bench.run(
                ["get", "put-cas", "--raw", "--redis-url", TestRedis.url, "--output", file("raw.json")] + options)
            #expect(raw.status == 0, "\(raw)")
            let cairn = try await Bench.run(
                ["get", "put-cas", "--url", server.url, "--output", file("cairn.json")] + options, token: server.adminToken)
            #expect(cairn.status == 0, "\(cairn)")
            // Paced at half of the throughput just measured (the p99-at-half-load row).
            let half = try await Bench.run(
                ["get", "--label", "get@half", "--rate-from", file("cairn.json"), "--url", server.url, "--output", file("half.json")]
                    + options, token: server.adminToken)
            #expect(half.status == 0, "\(half)")
            let document = try #require(half.json)
            #expect(document["results"]?.arrayValue?.first?["rate"]?.numberValue ?? 0 > 0, "\(half)")
        }
        let csv = """
            "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
            "HGETALL cairn:{t}:i:get::k0","80000.00","0.300","0.100","0.290","0.450","0.800","1.500"

            """
        try csv.write(toFile: file("rb.csv"), atomically: true, encoding: .utf8)
        let report = try await Bench.run(
            ["report", file("raw.json"), file("cairn.json"), file("half.json"), "--redis-benchmark", "get=\(file("rb.csv"))",
             "--info", "swift=test", "--output", file("combined.json")])
        #expect(report.status == 0, "\(report)")
        #expect(report.stdout.contains("cairnd÷raw"), "\(report)")
        #expect(report.stdout.contains("80,000"), "\(report)")
        #expect(report.stdout.contains("get@half"), "\(report)")
        #expect(report.stdout.contains("all "), "\(report)")
        let combined = try JSONValue(parsing: String(decoding: try Data(contentsOf: URL(fileURLWithPath: file("combined.json"))), as: UTF8.self))
        let rows = combined["rows"]?.arrayValue ?? []
        let get = rows.first { $0["label"]?.stringValue == "get" }
        #expect(get?["ratio_vs_redis_benchmark"]?.numberValue ?? 0 > 0, "\(combined)")
        #expect(get?["ratio_vs_raw"]?.numberValue ?? 0 > 0, "\(combined)")
    }

    /// Every workload of `run` ran, had requests, no errors, and passed its checks.
    static func expectAllPassed(_ run: BenchResult, mode: String, workloads: [String] = BenchSmokeTests.workloads) throws {
        #expect(run.status == 0, "\(run)")
        let document = try #require(run.json, "\(run)")
        let results = document["results"]?.arrayValue ?? []
        #expect(results.compactMap { $0["workload"]?.stringValue } == workloads, "\(run)")
        for r in results {
            let name = r["workload"]?.stringValue ?? "?"
            #expect(r["mode"]?.stringValue == mode)
            #expect(r["requests"]?.intValue ?? 0 > 0, "\(name) made no requests")
            #expect(r["errors"]?.intValue == 0, "\(name): \(r["error_samples"] ?? .null)")
            #expect(r["latency_us"]?["p99"]?.numberValue != nil, "\(name) has no latency")
            for check in r["checks"]?.arrayValue ?? [] {
                #expect(check["ok"]?.boolValue == true, "\(name): \(check)")
            }
        }
    }
}

/// What one run of `cairn-bench` did.
struct BenchResult: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String

    var json: JSONValue? { try? JSONValue(parsing: stdout) }
    var description: String { "exit \(status)\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)" }
}

enum Bench {
    /// The built `cairn-bench`: `CAIRN_BENCH_PATH`, or the one in the build products folder the
    /// test bundle runs from (beside it on Linux, a few levels up from an `.xctest` on macOS).
    static let executable: URL? = {
        if let path = ProcessInfo.processInfo.environment["CAIRN_BENCH_PATH"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        for start in [URL(fileURLWithPath: CommandLine.arguments[0]), Bundle.main.bundleURL] {
            var dir = start.resolvingSymlinksInPath().deletingLastPathComponent()
            for _ in 0..<5 {
                let candidate = dir.appendingPathComponent("cairn-bench")
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
                    FileManager.default.isExecutableFile(atPath: candidate.path)
                {
                    return candidate
                }
                dir = dir.deletingLastPathComponent()
            }
        }
        return nil
    }()

    /// Runs `cairn-bench arguments…` with `token` in `CAIRN_TOKEN` and no other `CAIRN_*`
    /// variable, and `input` on its standard input; waits without blocking a thread (the
    /// in-process server keeps serving), and kills it after `timeout` seconds so a hang fails
    /// the test instead of stalling it.
    static func run(
        _ arguments: [String], token: String? = nil, input: String = "", timeout: Double = 120
    ) async throws -> BenchResult {
        let executable = try #require(executable, "cairn-bench was not found; build it first or set CAIRN_BENCH_PATH")
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CAIRN_") }
        if let token { environment["CAIRN_TOKEN"] = token }
        environment["CAIRN_CONNECT_TIMEOUT"] = "60"  // a busy machine: the 5 s default is for people
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-bench-run-\(UUID().uuidString)")
        let outURL = base.appendingPathExtension("out"), errURL = base.appendingPathExtension("err")
        let inURL = base.appendingPathExtension("in")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: inURL.path, contents: Data(input.utf8))
        defer { for url in [outURL, errURL, inURL] { try? FileManager.default.removeItem(at: url) } }

        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        let inHandle = try FileHandle(forReadingFrom: inURL)
        defer { for handle in [out, err, inHandle] { try? handle.close() } }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inHandle
        let (exited, exit) = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in exit.finish() }
        try process.run()
        let pid = process.processIdentifier
        let watchdog = Task {
            try? await Task.sleep(for: .seconds(timeout))
            if !Task.isCancelled { kill(pid, SIGKILL) }
        }
        for await _ in exited {}
        watchdog.cancel()
        return BenchResult(
            status: process.terminationStatus,
            stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }
}

/// A server for one test, stopped when `body` ends (however it ends).
func withServer<T>(_ body: (TestServer) async throws -> T) async throws -> T {
    let server = try await TestServer()
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}
