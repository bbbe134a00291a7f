import CairnRedis
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One process's claim on a Redis data folder, so that two `redis-server`s never open one
/// append-only file (a second `cairnd` started on the same `--data-dir` would otherwise start a
/// second embedded Redis there).
///
/// The claim is an advisory `flock` on `cairn.lock` in the folder, held while the file stays
/// open: the kernel drops it when the holder exits in any way, so a lock left by a crash (its
/// pid dead) is simply taken over. The file also names the `redis-server` started under the
/// lock; because that child may outlive a holder killed with SIGKILL, a new holder refuses while
/// that `redis-server` still runs. What the lock is not: a guard against a `redis-server` started
/// by hand on the folder, or against another host on a shared file system (flock over NFS is
/// not to be trusted).
public final class DataFolderLock: Sendable {
    public static let fileName = "cairn.lock"

    /// The lock file's path.
    public let path: String
    private let descriptor: Mutex<Int32?>

    /// Takes the lock on `folder` (which must exist), or fails saying who holds it.
    public init(folder: String) throws(RedisError) {
        let path = (folder as NSString).appendingPathComponent(DataFolderLock.fileName)
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw RedisError(.configuration, "cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let failure = errno
            let holder = DataFolderLock.Contents(fd: fd)
            close(fd)
            if failure == EWOULDBLOCK {
                let who = holder.pid.map { "process \($0)" } ?? "another process"
                throw RedisError(
                    .configuration,
                    "the Redis data folder \(folder) is in use by \(who) (lock file \(path)): stop that cairnd, or give this one another folder with --data-dir (or CAIRN_DATA_DIR)")
            }
            throw RedisError(.configuration, "cannot lock \(path): \(String(cString: strerror(failure)))")
        }
        let previous = DataFolderLock.Contents(fd: fd)
        if let orphan = previous.redisPID, DataFolderLock.isRedisServer(pid: orphan) {
            close(fd)
            // Its signal mask may block SIGTERM (inherited from the process that started it), so
            // SHUTDOWN is the way that works, and saves the append-only file.
            let stop = previous.redisPort.map { "redis-cli -p \($0) shutdown" } ?? "kill -9 \(orphan)"
            throw RedisError(
                .configuration,
                "a redis-server (pid \(orphan)) started on the data folder \(folder) by an earlier process still runs: stop it (\(stop)) before starting another on the same folder")
        }
        descriptor = Mutex(fd)
        write(DataFolderLock.Contents(pid: getpid(), redisPID: nil))
    }

    /// Records the `redis-server` started under this lock, and its loopback port.
    public func record(redisPID: Int32, port: Int) {
        write(Contents(pid: getpid(), redisPID: redisPID, redisPort: Int32(clamping: port)))
    }

    /// Gives the lock up (the file stays, naming no live process). Safe to call more than once.
    public func release() {
        descriptor.withLock { fd in
            guard let open = fd else { return }
            close(open)
            fd = nil
        }
    }

    deinit { release() }

    private func write(_ contents: Contents) {
        descriptor.withLock { fd in
            guard let fd else { return }
            let bytes = Array(contents.text.utf8)
            _ = ftruncate(fd, 0)
            _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        }
    }

    /// What the lock file says: `pid N` (the holder), `redis-server N` (its child) and
    /// `port N` (the child's loopback port), a line each.
    struct Contents: Equatable {
        var pid: Int32?
        var redisPID: Int32?
        var redisPort: Int32?

        init(pid: Int32?, redisPID: Int32?, redisPort: Int32? = nil) {
            self.pid = pid
            self.redisPID = redisPID
            self.redisPort = redisPort
        }

        init(text: String) {
            for line in text.split(whereSeparator: \.isNewline) {
                let fields = line.split(separator: " ")
                guard fields.count == 2, let value = Int32(fields[1]), value > 0 else { continue }
                switch fields[0] {
                case "pid": pid = value
                case "redis-server": redisPID = value
                case "port": redisPort = value
                default: continue
                }
            }
        }

        /// Reads at most 256 bytes: the file is two short lines; anything longer is not ours.
        init(fd: Int32) {
            var buffer = [UInt8](repeating: 0, count: 256)
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            self.init(text: String(decoding: buffer.prefix(max(0, count)), as: UTF8.self))
        }

        var text: String {
            var lines = [String]()
            if let pid { lines.append("pid \(pid)") }
            if let redisPID { lines.append("redis-server \(redisPID)") }
            if let redisPort { lines.append("port \(redisPort)") }
            return lines.map { $0 + "\n" }.joined()
        }
    }

    /// Whether `pid` is a live `redis-server`. Where `/proc` exists its name is checked, so a
    /// pid reused by an unrelated process is not mistaken for the orphan.
    static func isRedisServer(pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let name = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8) else {
            return !FileManager.default.fileExists(atPath: "/proc/self")
        }
        return name.hasPrefix("redis-server")
    }
}
