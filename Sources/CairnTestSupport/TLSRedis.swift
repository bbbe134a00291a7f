import CairnRedis
import CairnRedisServer
import Foundation

/// A private `redis-server` that speaks TLS on `tlsPort`, for the tests of `rediss://`. It also
/// listens in plain TCP on `process.port`, for the harness only: `RedisServerProcess` checks on
/// that port that the process it started is the one answering, and stops it there. Tests of TLS
/// use `tlsPort` alone.
public struct TLSRedisServer: Sendable {
    public let process: RedisServerProcess
    public let tlsPort: Int

    /// `rediss://127.0.0.1:<tlsPort>`.
    public var url: String { "rediss://127.0.0.1:\(tlsPort)" }

    /// A configuration for the TLS port with `tls`, generous timeouts but `connectTimeout`.
    public func configuration(
        _ tls: RedisTLSOptions, host: String = "127.0.0.1", connectTimeoutMilliseconds: Int = 10_000
    ) throws(RedisError) -> RedisConfiguration {
        var configuration = try RedisConfiguration(url: "rediss://\(host):\(tlsPort)", poolSize: 2, tls: tls)
        configuration.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        configuration.commandTimeoutMilliseconds = 10_000
        return configuration
    }
}

extension TestRedis {
    /// Runs `body` with a private TLS `redis-server` (see `TLSRedisServer`): its certificate and
    /// key are `certificate`/`key`, clients are checked against `clientCA` when
    /// `requireClientCertificates` (`--tls-auth-clients yes`), else not asked for one. The server
    /// is stopped and its data folder deleted afterwards.
    ///
    /// redis-server cannot bind port 0 and say which port it got, so both ports are picked as
    /// `RedisServerProcess` picks one (`freeLoopbackPort`: left in TIME_WAIT, which the kernel
    /// hands to no one asking for a free port). If either was taken meanwhile, the server exits
    /// at start (or another answers the plain port, which `RedisServerProcess` notices), and the
    /// start is tried again on two new ports.
    public static func withPrivateTLSServer<T>(
        certificate: String, key: String, clientCA: String, requireClientCertificates: Bool = false,
        _ body: (TLSRedisServer) async throws -> T
    ) async throws -> T {
        let server = try await startTLSServer(
            certificate: certificate, key: key, clientCA: clientCA, requireClientCertificates: requireClientCertificates)
        defer { try? FileManager.default.removeItem(atPath: server.process.options.dataDirectory) }
        do {
            let result = try await body(server)
            await server.process.stopped(save: false)
            return result
        } catch {
            await server.process.stopped(save: false)
            throw error
        }
    }

    static func startTLSServer(
        certificate: String, key: String, clientCA: String, requireClientCertificates: Bool
    ) async throws -> TLSRedisServer {
        var lastError: (any Error)?
        for _ in 0..<5 {
            let (options, tlsPort) = tlsServerOptions(
                certificate: certificate, key: key, clientCA: clientCA, requireClientCertificates: requireClientCertificates)
            do {
                let process = try await RedisServerProcess.started(options)
                return TLSRedisServer(process: process, tlsPort: tlsPort)
            } catch {
                lastError = error
                try? FileManager.default.removeItem(atPath: options.dataDirectory)
            }
        }
        throw lastError ?? RedisError(.connection, "the TLS redis-server did not start")
    }

    /// One attempt's options: a fresh data folder and two ports picked as `RedisServerProcess`
    /// picks one.
    static func tlsServerOptions(
        certificate: String, key: String, clientCA: String, requireClientCertificates: Bool
    ) -> (RedisServerProcess.Options, tlsPort: Int) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-tls-redis-\(UUID().uuidString)").path
        let tlsPort = RedisServerProcess.freeLoopbackPort()
        var plainPort = RedisServerProcess.freeLoopbackPort()
        while plainPort == tlsPort { plainPort = RedisServerProcess.freeLoopbackPort() }
        let options = RedisServerProcess.Options(
            dataDirectory: directory, port: plainPort, appendOnly: false,
            extraArguments: [
                "--tls-port", String(tlsPort), "--tls-cert-file", certificate, "--tls-key-file", key,
                "--tls-ca-cert-file", clientCA, "--tls-auth-clients", requireClientCertificates ? "yes" : "no",
            ])
        return (options, tlsPort)
    }
}

/// `CAIRN_TEST_REDIS_TLS=1` (without `CAIRN_TEST_REDIS_URL`): the suite's shared Redis is a TLS
/// redis-server, and `TestRedis.pool` — every `TestRedis.store()`, so the whole store suite —
/// reaches it over TLS, verified against a CA made for the run. `TestRedis.url` stays its plain
/// harness port, for the tests that start `cairnd` or connect on their own.
enum SharedTLSRedis {
    struct Shared: Sendable {
        let server: TLSRedisServer
        let certificates: TestCertificates
    }

    static let shared: Shared? = {
        let environment = ProcessInfo.processInfo.environment
        guard environment["CAIRN_TEST_REDIS_TLS"] == "1", environment["CAIRN_TEST_REDIS_URL"]?.isEmpty ?? true else { return nil }
        do {
            let certificates = try TestCertificates.generatedBlocking(name: "shared")  // once, before any test runs
            let server = try TestRedis.startTLSServerWaiting(
                certificate: certificates.serverCertificate, key: certificates.serverKey, clientCA: certificates.caCertificate)
            atexit {
                SharedTLSRedis.shared?.server.process.stop(save: false)
                SharedTLSRedis.shared?.certificates.remove()
            }
            return Shared(server: server, certificates: certificates)
        } catch {
            fatalError("CAIRN_TEST_REDIS_TLS=1 needs a TLS redis-server and openssl: \(error)")
        }
    }()

    /// The shared pool's configuration over TLS.
    static func poolConfiguration(_ shared: Shared) -> RedisConfiguration {
        var configuration = try! RedisConfiguration(
            url: shared.server.url, poolSize: 8, tls: RedisTLSOptions(caFile: shared.certificates.caCertificate))
        configuration.connectTimeoutMilliseconds = 10_000
        return configuration
    }
}

extension TestRedis {
    /// The TLS port `TestRedis.pool` uses under `CAIRN_TEST_REDIS_TLS=1`; nil otherwise.
    public static var sharedTLSPort: Int? { SharedTLSRedis.shared?.server.tlsPort }

    /// `startTLSServer`, waiting on this thread (for a `static let`, as `TestRedis.url` starts its server).
    static func startTLSServerWaiting(certificate: String, key: String, clientCA: String) throws -> TLSRedisServer {
        var lastError: (any Error)?
        for _ in 0..<5 {
            let (options, tlsPort) = tlsServerOptions(certificate: certificate, key: key, clientCA: clientCA, requireClientCertificates: false)
            do {
                return TLSRedisServer(process: try RedisServerProcess(options), tlsPort: tlsPort)
            } catch {
                lastError = error
                try? FileManager.default.removeItem(atPath: options.dataDirectory)
            }
        }
        throw lastError ?? RedisError(.connection, "the TLS redis-server did not start")
    }
}
