import Foundation
import Testing

/// The tests of a run share one Redis, many at the same time. A command that acts on the whole
/// server (kills other clients' connections, pauses them, changes its settings, drops its data)
/// would hit the other tests running then, so a test may use one only on a private
/// redis-server of its own. This reads the test sources and checks that rule.
@Suite struct SharedRedisDisciplineTests {
    /// Server-wide commands, as the Swift tests spell them (array literals) and as text.
    static let serverWide = [
        #""CLIENT", "KILL""#, #""CLIENT", "PAUSE""#, #""CONFIG", "SET""#, #""FLUSHALL""#, #""FLUSHDB""#,
        #""SCRIPT", "FLUSH""#, #""DEBUG""#, #""SHUTDOWN""#, #""SWAPDB""#, #""FAILOVER""#, #""REPLICAOF""#,
        "CLIENT KILL", "CLIENT PAUSE", "CONFIG SET", "FLUSHALL", "FLUSHDB", "SCRIPT FLUSH", "DEBUG SLEEP",
    ]
    /// What a test uses when its Redis is its own.
    static let privateServer = ["withPrivateServer", "RedisServerProcess("]

    static var testsFolder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Each `@Test` of a source file: its name and its text (up to the next `@Test`).
    static func tests(in source: String) -> [(name: String, body: Substring)] {
        let starts = source.ranges(of: "@Test").map(\.lowerBound)
        return starts.enumerated().map { i, start in
            let end = i + 1 < starts.count ? starts[i + 1] : source.endIndex
            let body = source[start..<end]
            let name = body.firstRange(of: "func ").map { body[$0.upperBound...].prefix { $0 != "(" } } ?? "?"
            return (String(name), body)
        }
    }

    /// The server-wide commands a test uses without a private server of its own.
    static func violations(in source: String) -> [String] {
        tests(in: source).flatMap { test in
            let commands = serverWide.filter { test.body.contains($0) }
            if commands.isEmpty || privateServer.contains(where: { test.body.contains($0) }) { return [String]() }
            return ["\(test.name): \(commands.joined(separator: ", "))"]
        }
    }

    @Test func serverWideCommandsRunOnlyOnPrivateServers() throws {
        let files = FileManager.default.enumerator(at: Self.testsFolder, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" && $0.lastPathComponent != "SharedRedisDisciplineTests.swift" } ?? []
        #expect(files.count > 10, "found the test sources in \(Self.testsFolder.path)")
        for file in files {
            let found = Self.violations(in: try String(contentsOf: file, encoding: .utf8))
            #expect(found.isEmpty, "\(file.lastPathComponent) uses server-wide commands on the shared Redis: \(found)")
        }
    }

    /// The Python tests have no private Redis of their own: none of them may use such a command.
    @Test func pythonTestsUseNoServerWideCommands() throws {
        let folder = Self.testsFolder.deletingLastPathComponent().appendingPathComponent("clients/python/tests")
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil).filter { $0.pathExtension == "py" }
        #expect(!files.isEmpty, "found the Python tests in \(folder.path)")
        let words = ["client kill", "client pause", "config set", "flushall", "flushdb", "script flush", "debug sleep", "shutdown nosave"]
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8).lowercased()
            let found = words.filter { text.contains($0) || text.contains($0.replacingOccurrences(of: " ", with: "_")) }
            #expect(found.isEmpty, "\(file.lastPathComponent) uses server-wide Redis commands: \(found)")
        }
    }

    @Test func theCheckFindsWhatItLooksFor() {
        let shared = """
            @Test func pauses() async throws {
                _ = try pauser.run(["CLIENT", "PAUSE", "800", "ALL"])
            }
            @Test func harmless() async throws { _ = try c.run(["GET", "k"]) }
            @Test func killsItsOwn() async throws {
                try await TestRedis.withPrivateServer { server in _ = try c.run(["CLIENT", "KILL", "TYPE", "normal"]) }
            }
            """
        #expect(Self.violations(in: shared) == [#"pauses: "CLIENT", "PAUSE""#])
    }
}
