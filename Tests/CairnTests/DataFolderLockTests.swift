import CairnRedis
@testable import CairnRedisServer
import CairnTestSupport
import Foundation
import Testing

/// One embedded redis-server per data folder: `RedisServerProcess` takes `DataFolderLock`.
@Suite struct DataFolderLockTests {
    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-lock-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func aSecondRedisOnTheSameFolderIsRefusedWithAClearMessage() throws {
        let directory = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try RedisServerProcess(.init(dataDirectory: directory, appendOnly: true))
        defer { first.stop(save: false) }
        do {
            let second = try RedisServerProcess(.init(dataDirectory: directory, appendOnly: true))
            second.stop(save: false)
            Issue.record("a second redis-server started on \(directory)")
        } catch {
            #expect(error.kind == .configuration)
            #expect(error.message.contains("the Redis data folder \(directory) is in use by process \(getpid())"), "\(error.message)")
            #expect(error.message.contains("--data-dir"), "\(error.message)")
        }
        #expect(first.isRunning)
        // Once the first has stopped, the folder is free again. (Soon rather than at once: a
        // process another test forks at that moment shares the lock's open file until it
        // execs, which closes it — a window of milliseconds, longer on a busy machine.)
        first.stop(save: false)
        let deadline = Date().addingTimeInterval(10)
        while true {
            do {
                let again = try RedisServerProcess(.init(dataDirectory: directory, appendOnly: true))
                again.stop(save: false)
                break
            } catch {
                guard error.message.contains("is in use by"), Date() < deadline else { throw error }
            }
            usleep(20_000)
        }
    }

    @Test func aLockLeftByADeadProcessIsTakenOver() throws {
        let directory = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A process that has exited: its pid (and a redis-server pid that is just as dead) in the file.
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/sh")
        gone.arguments = ["-c", "exit 0"]
        try gone.run()
        gone.waitUntilExit()
        let path = (directory as NSString).appendingPathComponent(DataFolderLock.fileName)
        try "pid \(gone.processIdentifier)\nredis-server \(gone.processIdentifier)\n".write(toFile: path, atomically: true, encoding: .utf8)

        let server = try RedisServerProcess(.init(dataDirectory: directory, appendOnly: false))
        defer { server.stop(save: false) }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == "pid \(getpid())\nredis-server \(server.processIdentifier)\nport \(server.port)\n")
    }

    @Test func aRedisServerLeftRunningOnTheFolderIsRefused() async throws {
        let directory = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A redis-server that outlived the process that locked the folder (that process killed
        // with SIGKILL): the lock is free, the file still names the running redis-server.
        let executable = try #require(RedisServerProcess.findExecutable(), "redis-server not found")
        let socket = (directory as NSString).appendingPathComponent("redis.sock")
        let orphan = Process()
        orphan.executableURL = URL(fileURLWithPath: executable)
        orphan.arguments = [
            "--port", "0", "--unixsocket", socket, "--dir", directory, "--save", "", "--appendonly", "no", "--logfile", "redis.log",
        ]
        try orphan.run()
        defer {
            // SIGKILL: a child of the test process may inherit a mask that blocks SIGTERM.
            kill(orphan.processIdentifier, SIGKILL)
            orphan.waitUntilExit()
        }
        // The socket appears once redis-server has started (long after its exec; on a machine
        // busy with builds that has taken more than the default 10 s).
        await eventually(60) { FileManager.default.fileExists(atPath: socket) }
        let path = (directory as NSString).appendingPathComponent(DataFolderLock.fileName)
        try "pid 999999999\nredis-server \(orphan.processIdentifier)\nport 6399\n".write(toFile: path, atomically: true, encoding: .utf8)
        do {
            let lock = try DataFolderLock(folder: directory)
            lock.release()
            let name = (try? String(contentsOfFile: "/proc/\(orphan.processIdentifier)/comm", encoding: .utf8)) ?? "?"
            Issue.record("the folder was locked while its redis-server runs (running: \(orphan.isRunning), comm: \(name.debugDescription))")
        } catch {
            #expect(error.message.contains("a redis-server (pid \(orphan.processIdentifier))"), "\(error.message)")
            #expect(error.message.contains("stop it (redis-cli -p 6399 shutdown)"), "\(error.message)")
        }
    }

    @Test func contentsRoundTripAndIgnoreNoise() {
        #expect(DataFolderLock.Contents(text: "pid 12\nredis-server 34\nport 6379\n") == .init(pid: 12, redisPID: 34, redisPort: 6379))
        #expect(DataFolderLock.Contents(text: "pid 12\nredis-server 34\n") == .init(pid: 12, redisPID: 34))
        #expect(DataFolderLock.Contents(text: "garbage\npid x\nredis-server -3\n") == .init(pid: nil, redisPID: nil))
        #expect(DataFolderLock.Contents(pid: 5, redisPID: nil).text == "pid 5\n")
    }
}
