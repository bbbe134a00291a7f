@testable import Cairn
import CairnCore
import CairnTestSupport
import Foundation
import Synchronization
import Testing

@testable import CairnRedis

/// `rediss://`: URLs and options without a server, then a real `redis-server` speaking TLS
/// (Debian's is built with it), with certificates made for the test.
@Suite struct RedisTLSTests {
    // MARK: - Configuration, no server

    @Test func redissURLsTurnTLSOnAndSayTheirScheme() throws {
        let plain = try RedisConfiguration(url: "redis://db:6380/2")
        #expect(plain.tls == nil)
        #expect(plain.description == "redis://db:6380/2")

        let secure = try RedisConfiguration(url: "rediss://app:s3cret@db.internal:6390/3")
        #expect(secure.tls?.options == RedisTLSOptions())
        #expect(secure.host == "db.internal" && secure.port == 6390 && secure.database == 3)
        #expect(secure.username == "app" && secure.password == "s3cret")
        #expect(secure.description == "rediss://app:***@db.internal:6390/3")
        #expect(try RedisConfiguration(url: "rediss://[::1]").port == 6379)
    }

    @Test func tlsOptionsWithAPlainURLAreRefusedNotIgnored() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "redis://db", tls: RedisTLSOptions(caFile: certificates.caCertificate)) }
        do {
            _ = try RedisConfiguration(url: "redis://db", tls: RedisTLSOptions(caFile: certificates.caCertificate))
        } catch {
            #expect(error.kind == .configuration)
            #expect(error.message.contains("use rediss:// for TLS"), "\(error)")
        }
        do {
            _ = try RedisConfiguration(url: "http://db")
        } catch {
            #expect(error.message.contains("redis:// or rediss://"), "\(error)")
        }
    }

    @Test func badTLSFilesAreNamedInTheError() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        func refusal(_ options: RedisTLSOptions) -> String? {
            do {
                _ = try RedisConfiguration(url: "rediss://db", tls: options)
                return nil
            } catch {
                #expect(error.kind == .configuration)
                return error.message
            }
        }
        let missing = "\(certificates.folder)/nope.pem"
        #expect(refusal(RedisTLSOptions(caFile: missing))?.contains("Redis CA file (--redis-tls-ca) \(missing)") == true)
        // A key is no certificate.
        #expect(
            refusal(RedisTLSOptions(caFile: certificates.clientKey))?.contains("Redis CA file (--redis-tls-ca) \(certificates.clientKey)") == true)
        #expect(
            refusal(RedisTLSOptions(certificateFile: missing, keyFile: certificates.clientKey))?
                .contains("Redis client certificate (--redis-tls-cert) \(missing)") == true)
        #expect(
            refusal(RedisTLSOptions(certificateFile: certificates.clientCertificate, keyFile: missing))?
                .contains("Redis client key \(missing) (--redis-tls-key)") == true)
        #expect(refusal(RedisTLSOptions(certificateFile: certificates.clientCertificate))?.contains("needs both --redis-tls-cert and --redis-tls-key") == true)
        let mismatched = refusal(RedisTLSOptions(certificateFile: certificates.clientCertificate, keyFile: certificates.serverKey))
        #expect(mismatched?.contains("does the key belong to the certificate?") == true, "\(mismatched ?? "accepted")")
        #expect(refusal(RedisTLSOptions(serverName: ""))?.contains("--redis-tls-server-name") == true)
        #expect(refusal(RedisTLSOptions(caFile: certificates.caCertificate, serverName: "redis.internal")) == nil)
    }

    // MARK: - A real TLS redis-server

    /// Runs `body` with a TLS redis-server whose certificate is for 127.0.0.1 and localhost,
    /// signed by the CA of `certificates`.
    static func withServer<T>(
        _ certificates: TestCertificates, requireClientCertificates: Bool = false, otherHost: Bool = false,
        _ body: (TLSRedisServer) async throws -> T
    ) async throws -> T {
        try await TestRedis.withPrivateTLSServer(
            certificate: otherHost ? certificates.otherHostCertificate : certificates.serverCertificate,
            key: otherHost ? certificates.otherHostKey : certificates.serverKey, clientCA: certificates.caCertificate,
            requireClientCertificates: requireClientCertificates, body)
    }

    /// The error connecting with `configuration` fails with (nil: it connected).
    static func connectFailure(_ configuration: RedisConfiguration) async -> RedisError? {
        do {
            let connection = try await RedisChannelConnection.open(configuration)
            connection.close()
            return nil
        } catch {
            return error
        }
    }

    @Test func theStoreWorksOverTLS() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        try await Self.withServer(certificates) { server in
            let pool = RedisPool(configuration: try server.configuration(RedisTLSOptions(caFile: certificates.caCertificate)))
            let store = Store(redis: pool)
            let ns = try Namespace(tenant: uniqueTenant(), task: "t")
            #expect(try await store.put(ns, key: "k", value: ["over": "tls"], by: alice).version == 1)
            #expect(try await store.get(ns, key: "k")?.value == ["over": "tls"])
            // Compare-and-set: a transaction on a lent connection.
            #expect(try await store.put(ns, key: "k", value: 2, ifVersion: 1, by: alice).version == 2)
            let conflict = await expectError(.versionConflict) { () async throws(CairnError) in
                try await store.put(ns, key: "k", value: 3, ifVersion: 1, by: alice)
            }
            #expect(conflict?.message.contains("2") == true, "\(String(describing: conflict))")
            #expect(try await store.get(ns, key: "k")?.value == 2)
            // Whoever answered is the TLS redis-server: its client list shows this connection
            // on the TLS port (the harness's plain port is another).
            let clients = try await pool.send(["CLIENT", "LIST"]).string ?? ""
            #expect(clients.contains("laddr=127.0.0.1:\(server.tlsPort)"), "\(clients)")
            await pool.shutdown()
        }
    }

    @Test func aSubscriptionGetsItsEventsThroughPubSubOverTLS() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        try await Self.withServer(certificates) { server in
            let pool = RedisPool(configuration: try server.configuration(RedisTLSOptions(caFile: certificates.caCertificate)))
            let store = Store(redis: pool)
            let listening = Atomic<Bool>(false)
            // No polling to speak of: the event can only come because pub/sub (over TLS) said so.
            let feed = ChangeFeed(
                store: store, options: FeedOptions(pollIntervalMilliseconds: 600_000),
                onListening: { listening.store(true, ordering: .sequentiallyConsistent) })
            let status = await feed.start()
            #expect(status.contains("set Redis notify-keyspace-events"), "\(status)")
            await eventually { listening.load(ordering: .sequentiallyConsistent) }
            let ns = try Namespace(tenant: uniqueTenant(), task: "t")
            let subscription = try await feed.subscribe(Scope(exactly: ns))
            try await store.put(ns, key: "k", value: 1, by: alice)
            var iterator = subscription.makeAsyncIterator()
            let message = await iterator.next()
            guard case .event(let entry)? = message else {
                Issue.record("expected an event, got \(String(describing: message))")
                return
            }
            #expect(entry.key == Name("k") && entry.version == 1 && entry.ns == ns)
            // The pub/sub connection is a TLS one.
            let pubsub = try await pool.send(["CLIENT", "LIST", "TYPE", "pubsub"]).string ?? ""
            #expect(pubsub.contains("laddr=127.0.0.1:\(server.tlsPort)"), "\(pubsub)")
            subscription.cancel()
            feed.stop()
            await pool.shutdown()
        }
    }

    /// `CAIRN_TEST_REDIS_TLS=1 swift test`: the store suite's shared pool is a TLS one.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CAIRN_TEST_REDIS_TLS"] == "1"))
    func theSharedPoolSpeaksTLSWhenAskedTo() async throws {
        let port = try #require(TestRedis.sharedTLSPort, "CAIRN_TEST_REDIS_TLS=1 is ignored with CAIRN_TEST_REDIS_URL")
        #expect(TestRedis.pool.configuration.tls != nil && TestRedis.pool.configuration.port == port)
        let me = try await TestRedis.pool.send(["CLIENT", "INFO"]).string ?? ""
        #expect(me.contains("laddr=127.0.0.1:\(port)"), "\(me)")
    }

    @Test func mutualTLSWithTheClientsCertificateWorks() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        try await Self.withServer(certificates, requireClientCertificates: true) { server in
            let options = RedisTLSOptions(
                caFile: certificates.caCertificate, certificateFile: certificates.clientCertificate, keyFile: certificates.clientKey)
            let pool = RedisPool(configuration: try server.configuration(options))
            #expect(try await pool.send(["PING"]).string == "PONG")
            let lent = try await pool.withConnection { try await $0.transaction([["INCR", "n"]]) }
            #expect(lent == .committed([.integer(1)]))
            await pool.shutdown()
        }
    }

    @Test func mutualTLSWithoutACertificateIsRefusedAtConnectAndSaysSo() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        try await Self.withServer(certificates, requireClientCertificates: true) { server in
            let failure = await Self.connectFailure(try server.configuration(RedisTLSOptions(caFile: certificates.caCertificate)))
            #expect(failure?.kind == .connection)
            #expect(failure?.message.contains("TLS to Redis at rediss://127.0.0.1:\(server.tlsPort)/0 failed") == true, "\(String(describing: failure))")
            #expect(failure?.message.contains("Redis requires a client certificate") == true, "\(String(describing: failure))")
            #expect(failure?.message.contains("--redis-tls-cert and --redis-tls-key") == true, "\(String(describing: failure))")

            // A certificate from a CA Redis does not know is refused too.
            let stranger = try await TestCertificates(name: "stranger")
            defer { stranger.remove() }
            let foreign = RedisTLSOptions(
                caFile: certificates.caCertificate, certificateFile: stranger.clientCertificate, keyFile: stranger.clientKey)
            let refused = await Self.connectFailure(try server.configuration(foreign))
            #expect(refused?.message.contains("Redis refused the client certificate (--redis-tls-cert)") == true, "\(String(describing: refused))")
        }
    }

    @Test func aServerCertificateFromAStrangersCAIsRefused() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        let stranger = try await TestCertificates(name: "stranger")
        defer { stranger.remove() }
        try await Self.withServer(certificates) { server in
            let failure = await Self.connectFailure(try server.configuration(RedisTLSOptions(caFile: stranger.caCertificate)))
            #expect(failure?.kind == .connection)
            #expect(failure?.message.contains("unknown CA") == true, "\(String(describing: failure))")
            #expect(failure?.message.contains("--redis-tls-ca") == true, "\(String(describing: failure))")
            // Without a CA file the system's CAs are asked, and they do not know the test's CA.
            let system = await Self.connectFailure(try server.configuration(RedisTLSOptions()))
            #expect(system?.message.contains("unknown CA") == true, "\(String(describing: system))")
        }
    }

    @Test func aCertificateForAnotherHostIsRefusedUnlessItsNameIsGiven() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        try await Self.withServer(certificates, otherHost: true) { server in
            for host in ["127.0.0.1", "localhost"] {
                let failure = await Self.connectFailure(try server.configuration(RedisTLSOptions(caFile: certificates.caCertificate), host: host))
                #expect(failure?.message.contains("wrong host") == true, "\(host): \(String(describing: failure))")
                #expect(failure?.message.contains("not for \(host)") == true, "\(host): \(String(describing: failure))")
            }
            // The name its certificate is for, given explicitly, is what is checked.
            let named = RedisTLSOptions(caFile: certificates.caCertificate, serverName: "wrong.example")
            #expect(await Self.connectFailure(try server.configuration(named)) == nil)
        }
        // (A certificate that is for the IP address connected to is accepted whatever name is
        // given: swift-nio-ssl accepts a match of either, so that case is not refused.)
    }

    @Test func redissAgainstAPlainPortFailsWithinTheConnectTimeoutAndSaysTLS() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        try await Self.withServer(certificates) { server in
            // The harness's plain port of the same redis-server: Redis without TLS there.
            var configuration = try RedisConfiguration(
                url: "rediss://127.0.0.1:\(server.process.port)", poolSize: 1, tls: RedisTLSOptions(caFile: certificates.caCertificate))
            configuration.connectTimeoutMilliseconds = 500
            let started = Date()
            let failure = await Self.connectFailure(configuration)
            let elapsed = Date().timeIntervalSince(started)
            #expect(failure?.kind == .connection)
            // Either Redis answered the hello as a bad command, or it waited for the rest of it.
            let said = failure?.message ?? ""
            #expect(
                said.contains("answered in plain text, not TLS") || said.contains("no TLS handshake within the connect timeout (500 ms)"),
                "\(said)")
            #expect(elapsed < 5, "took \(elapsed) s")
        }
    }

    @Test func redisAgainstATLSPortFailsAndSaysRediss() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        try await Self.withServer(certificates) { server in
            var configuration = RedisConfiguration(host: "127.0.0.1", port: server.tlsPort, poolSize: 1)
            configuration.connectTimeoutMilliseconds = 500
            configuration.commandTimeoutMilliseconds = 500
            let started = Date()
            // Connecting is TCP alone (nothing to set up); the first command learns it.
            let pool = RedisPool(configuration: configuration)
            do throws(RedisError) {
                let reply = try await pool.send(["PING"])
                Issue.record("PING over plain TCP to the TLS port answered \(reply)")
            } catch {
                #expect(error.kind == .connection)
                #expect(error.message.contains("use rediss://"), "\(error)")
            }
            // With a password the set-up's AUTH is the first command: connecting fails.
            configuration.password = "secret"
            let failure = await Self.connectFailure(configuration)
            #expect(failure?.message.contains("use rediss://") == true, "\(String(describing: failure))")
            #expect(Date().timeIntervalSince(started) < 10)
            await pool.shutdown()
        }
    }
}
