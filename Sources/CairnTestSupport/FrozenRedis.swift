import CairnRedis
import CairnRedisServer
import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension RedisServerProcess {
    /// Runs `body` while this (private) redis-server is stopped with SIGSTOP, and lets it go on
    /// (SIGCONT) when `body` ends, however it ends. Its connections stay open and commands sent
    /// meanwhile wait unanswered — a Redis that holds everything until the test says so. Unlike
    /// `CLIENT PAUSE`, the hold has no clock of its own that a slow machine could outrun, and it
    /// ends exactly when the test is ready.
    public func whileFrozen<T>(_ body: () async throws -> T) async throws -> T {
        precondition(isRunning, "whileFrozen needs a running redis-server")
        let pid = processIdentifier
        kill(pid, SIGSTOP)
        defer { kill(pid, SIGCONT) }
        // The signal takes effect when the kernel next schedules the process: wait until it
        // reports itself stopped, so that nothing sent from here on can be answered early.
        let deadline = ContinuousClock.now + .seconds(10)
        while Self.processState(pid) != "T" {
            guard ContinuousClock.now < deadline else {
                throw RedisError(.connection, "redis-server (pid \(pid)) did not stop within 10 s of SIGSTOP")
            }
            try await Task.sleep(for: .milliseconds(1))
        }
        return try await body()
    }

    /// The state letter in `/proc/<pid>/stat` ("R", "S", "T" for stopped, ...), nil if unreadable.
    static func processState(_ pid: Int32) -> Character? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        return stat[stat.index(after: close)...].first { $0 != " " }
    }
}
