import CairnRedis
import CairnRedisServer
import CairnTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Ports the tests pick cannot be taken by someone else between picking and using them.
@Suite struct PortPickingTests {
    /// Binds a TCP socket to 127.0.0.1:`port` (and listens, when asked); the socket, or the errno.
    static func bindLoopback(_ port: Int, reuseAddress: Bool, listening: Bool = false) -> Result<Int32, POSIXError> {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return .failure(POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)) }
        var yes: Int32 = 1
        if reuseAddress { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size)) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if bound != 0 || (listening && listen(fd, 1) != 0) {
            let code = POSIXErrorCode(rawValue: errno) ?? .EIO
            close(fd)
            return .failure(POSIXError(code))
        }
        return .success(fd)
    }

    /// Connects to 127.0.0.1:`port`: nil when connected, else the errno.
    static func connectLoopback(_ port: Int) -> POSIXErrorCode? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return connected == 0 ? nil : POSIXErrorCode(rawValue: errno) ?? .EIO
    }

    @Test func aRefusingPortRefusesAndNobodyCanBindIt() async throws {
        try await withRefusingPort { port in
            #expect(Self.connectLoopback(port) == .ECONNREFUSED)
            // Not even a server binding with SO_REUSEADDR, as redis-server and cairnd do.
            for reuse in [false, true] {
                switch Self.bindLoopback(port, reuseAddress: reuse, listening: true) {
                case .success(let fd):
                    close(fd)
                    Issue.record("another socket bound the held port \(port) (SO_REUSEADDR \(reuse))")
                case .failure(let error): #expect(error.code == .EADDRINUSE)
                }
            }
            #expect(Self.connectLoopback(port) == .ECONNREFUSED)
        }
    }

    @Test func aPickedRedisPortIsKeptFromOthersButNotFromRedis() throws {
        let port = RedisServerProcess.freeLoopbackPort()
        // Nobody asking without SO_REUSEADDR gets it (the kernel's choice for port 0 skips it the
        // same way) ...
        switch Self.bindLoopback(port, reuseAddress: false) {
        case .success(let fd):
            close(fd)
            Issue.record("port \(port) was free for anyone right after it was picked")
        case .failure(let error): #expect(error.code == .EADDRINUSE)
        }
        // ... while a server binding with SO_REUSEADDR, as redis-server does, can listen on it.
        let server = try Self.bindLoopback(port, reuseAddress: true, listening: true).get()
        close(server)
    }

    @Test func anotherRedisAnsweringOnThePortIsNotMistakenForOurs() async throws {
        // A stand-in "redis-server" that starts, binds nothing and waits: whatever answers on the
        // port is some other server.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-port-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fake = directory + "/not-redis"
        try "#!/bin/sh\nexec sleep 60\n".write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        try await TestRedis.withPrivateServer { (other: RedisServerProcess) async throws in
            do throws(RedisError) {
                let started = try await RedisServerProcess.started(
                    .init(dataDirectory: directory, port: other.port, appendOnly: false, executable: fake))
                started.kill9()
                Issue.record("took the redis-server already on port \(other.port) for the one it started")
            } catch {
                #expect(error.message.contains("another redis-server answers on port \(other.port)"), "\(error)")
            }
            // The other server was left alone.
            let pool = RedisPool(configuration: RedisConfiguration(host: "127.0.0.1", port: other.port, poolSize: 1))
            #expect(try await pool.send(["PING"]).string == "PONG")
            await pool.shutdown()
        }
    }
}
