import NIOCore
import NIOSSL
import NIOTLS

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How Redis connections speak TLS (`rediss://` URLs): whom they trust, the certificate they
/// show for mutual TLS, and the name Redis's certificate must be for. There is no option that
/// turns verification off: Redis's certificate is always checked against the CAs and the name.
public struct RedisTLSOptions: Sendable, Hashable {
    /// PEM file of the CA(s) that sign Redis's certificate; nil: the system's CAs.
    public var caFile: String?
    /// PEM client certificate and its key, for a Redis that requires them
    /// (`tls-auth-clients yes`, its default).
    public var certificateFile: String?
    public var keyFile: String?
    /// The name Redis's certificate must be for; nil: the URL's host (an IP address is checked
    /// against the certificate's IP entries).
    public var serverName: String?

    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, serverName: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.serverName = serverName
    }

    /// Whether no option is set (the defaults: system CAs, no client certificate, the URL's host).
    public var isEmpty: Bool { self == RedisTLSOptions() }
}

/// The TLS of a Redis configuration: its options and the context made from them once, so that
/// connecting reads no file (it happens on an event loop). Two values are equal when their
/// options are.
public struct RedisTLS: Sendable, Hashable {
    public let options: RedisTLSOptions
    let context: NIOSSLContext

    /// Reads the CA, certificate and key files: call it off the event loops. TLS 1.2 or newer;
    /// Redis's certificate is verified against the CAs and the host name. Errors name the file
    /// that is wrong.
    public init(_ options: RedisTLSOptions) throws(RedisError) {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .fullVerification
        if let caFile = options.caFile {
            configuration.trustRoots = .certificates(try Self.certificates(in: caFile, what: "Redis CA file (--redis-tls-ca)"))
        }
        switch (options.certificateFile, options.keyFile) {
        case (nil, nil):
            break
        case (let certificateFile?, let keyFile?):
            let chain = try Self.certificates(in: certificateFile, what: "Redis client certificate (--redis-tls-cert)")
            do {
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            } catch {
                throw RedisError(.configuration, "cannot read the Redis client key \(keyFile) (--redis-tls-key) as PEM: \(error)")
            }
            configuration.certificateChain = chain.map { .certificate($0) }
        default:
            throw RedisError(.configuration, "a client certificate for Redis needs both --redis-tls-cert and --redis-tls-key")
        }
        if let name = options.serverName, name.isEmpty {
            throw RedisError(.configuration, "the Redis TLS server name (--redis-tls-server-name) is empty")
        }
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw RedisError(.configuration, "the Redis TLS settings cannot be used (does the key belong to the certificate?): \(error)")
        }
        self.options = options
    }

    static func certificates(in file: String, what: String) throws(RedisError) -> [NIOSSLCertificate] {
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(file)
        } catch {
            throw RedisError(.configuration, "cannot read the \(what) \(file) as PEM: \(error)")
        }
        guard !certificates.isEmpty else { throw RedisError(.configuration, "the \(what) \(file) holds no PEM certificate") }
        return certificates
    }

    public static func == (a: RedisTLS, b: RedisTLS) -> Bool { a.options == b.options }
    public func hash(into hasher: inout Hasher) { hasher.combine(options) }

    /// Adds TLS at the front of a new connection's pipeline: a check that Redis answers in TLS
    /// at all, the TLS handler, and the wait for the handshake (`RedisTLSHandshake`), which must
    /// end by `deadline`.
    func addHandlers(to channel: any Channel, host: String, peer: String, deadline: NIODeadline, timeoutMilliseconds: Int) throws {
        let name = options.serverName ?? host
        // An IP address is checked against the certificate's IP entries and is never sent as SNI.
        let isAddress = (try? SocketAddress(ipAddress: name, port: 0)) != nil
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(PlaintextRedisDetector(peer: peer))
        try sync.addHandler(NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : name))
        try sync.addHandler(
            RedisTLSHandshake(
                promise: channel.eventLoop.makePromise(), peer: peer, name: name, deadline: deadline, timeoutMilliseconds: timeoutMilliseconds))
    }

    /// Succeeds once the handshake of a channel set up by `addHandlers` is done.
    static func handshakeDone(on channel: any Channel) -> EventLoopFuture<Void> {
        do {
            return try channel.pipeline.syncOperations.handler(type: RedisTLSHandshake.self).promise.futureResult
        } catch {
            return channel.eventLoop.makeFailedFuture(RedisError(.connection, "the TLS connection to Redis has no handshake to wait for: \(error)"))
        }
    }
}

/// A TLS server's first bytes are a TLS record: a handshake (22) or an alert (21). A Redis
/// without TLS answers the client's hello with a RESP error (`-ERR …`) instead, if anything.
/// Names that case rather than leaving it to a TLS parse error. Removes itself once it has seen
/// the first byte.
final class PlaintextRedisDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let peer: String

    init(peer: String) {
        self.peer = peer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let first = unwrapInboundIn(data).readableBytesView.first else { return }
        if first != 0x16 && first != 0x15 {
            context.fireErrorCaught(RedisError(
                .connection,
                "Redis at \(peer) answered in plain text, not TLS: that port does not speak TLS (use redis://, or the port of Redis's tls-port)"))
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// Waits for the TLS handshake of a new connection, so that `connect` fails with its reason
/// (unknown CA, wrong host) instead of the first command; and bounds it: a Redis without TLS
/// reads the client's hello as the start of a command and waits silently for the rest of it.
/// After the handshake it stays, to put TLS failures (a client certificate Redis refuses after a
/// TLS 1.3 handshake) in words.
final class RedisTLSHandshake: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let promise: EventLoopPromise<Void>
    private let peer: String
    private let name: String
    private let deadline: NIODeadline
    private let timeoutMilliseconds: Int
    private var done = false
    private var timer: Scheduled<Void>?

    init(promise: EventLoopPromise<Void>, peer: String, name: String, deadline: NIODeadline, timeoutMilliseconds: Int) {
        self.promise = promise
        self.peer = peer
        self.name = name
        self.deadline = deadline
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    func handlerAdded(context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            guard !done else { return }
            let failure = RedisError(
                .connection,
                "TLS to Redis at \(peer) failed: no TLS handshake within the connect timeout (\(timeoutMilliseconds) ms): does that port speak TLS? (a Redis without TLS waits silently; use redis:// for it)")
            finish(.failure(failure))
            context.fireErrorCaught(failure)
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish(.failure(RedisError(.connection, "the connection to Redis at \(peer) closed before its TLS handshake")))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event { finish(.success(())) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(RedisError(.connection, "TLS to Redis at \(peer) failed: Redis closed the connection during the handshake")))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Before the handshake every failure is one of connecting; after it only TLS's own are
        // put in TLS words (an I/O error is the same as on a plain connection).
        guard !done || RedisTLSFailure.isTLSError(error) else {
            context.fireErrorCaught(error)
            return
        }
        let described = RedisTLSFailure.describe(error, peer: peer, name: name)
        finish(.failure(described))
        context.fireErrorCaught(described)
    }

    private func finish(_ result: Result<Void, RedisError>) {
        guard !done else { return }
        done = true
        timer?.cancel()
        timer = nil
        switch result {
        case .success: promise.succeed(())
        case .failure(let error): promise.fail(error)
        }
    }
}

/// Words for TLS failures as cairnd sees them from Redis.
enum RedisTLSFailure {
    static func describe(_ error: any Error, peer: String, name: String) -> RedisError {
        if let error = error as? RedisError { return error }
        let text = String(describing: error)
        if let error = error as? NIOSSLError, case .uncleanShutdown = error {
            // The socket closed without TLS's own close: Redis stopped, or dropped the connection.
            return RedisError(.connection, "Redis at \(peer) closed the TLS connection without a TLS close_notify (\(text))")
        }
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return RedisError(
                .connection,
                "TLS to Redis at \(peer) failed: wrong host: Redis's certificate is not for \(name) (set --redis-tls-server-name to a name it is for) (\(text))")
        }
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return RedisError(
                .connection,
                "TLS to Redis at \(peer) failed: Redis's certificate could not be verified: it is signed by an unknown CA (pass the CA that signed it with --redis-tls-ca / CAIRN_REDIS_TLS_CA), or it is expired or not yet valid (\(text))")
        }
        if text.contains("CERTIFICATE_REQUIRED") {
            return RedisError(
                .connection,
                "TLS to Redis at \(peer) failed: Redis requires a client certificate (tls-auth-clients): pass one its CA signed with --redis-tls-cert and --redis-tls-key (\(text))")
        }
        if text.contains("ALERT_UNKNOWN_CA") || text.contains("ALERT_BAD_CERTIFICATE") || text.contains("ALERT_CERTIFICATE_UNKNOWN")
            || text.contains("ALERT_CERTIFICATE_EXPIRED")
        {
            return RedisError(
                .connection,
                "TLS to Redis at \(peer) failed: Redis refused the client certificate (--redis-tls-cert): it is not signed by a CA in Redis's tls-ca-cert-file, or it is expired (\(text))")
        }
        if text.contains("HANDSHAKE_FAILURE") || text.contains("ALERT") {
            return RedisError(
                .connection,
                "TLS to Redis at \(peer) failed: Redis refused the handshake; if it requires client certificates (tls-auth-clients), pass one its CA signed with --redis-tls-cert and --redis-tls-key (\(text))")
        }
        if isTLSError(error) {
            return RedisError(.connection, "TLS to Redis at \(peer) failed: \(text)")
        }
        return RedisError(.connection, "cannot reach Redis at \(peer): \(RedisChannelConnection.describe(error))")
    }

    static func isTLSError(_ error: any Error) -> Bool {
        error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError
    }
}

/// On a plain (`redis://`) connection: a Redis that speaks TLS on that port answers the first
/// command with a TLS alert, or resets the connection without a reply. Names that case instead
/// of "the server closed it". Removes itself once a reply has begun.
final class TLSRedisDetector: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let peer: String
    private var wrote = false
    private var reported = false

    init(peer: String) {
        self.peer = peer
    }

    private func speaksTLS(_ what: String) -> RedisError {
        RedisError(.connection, "Redis at \(peer) \(what)")
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        wrote = true
        context.write(data, promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let first = unwrapInboundIn(data).readableBytesView.first else { return }
        if first == 0x15 || first == 0x16 {
            report(context, "answered with a TLS record, not RESP: that port speaks TLS (use rediss://)")
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if wrote, let io = error as? IOError, io.errnoCode == ECONNRESET {
            report(context, "reset the connection before its first reply: if that port speaks TLS, use rediss:// (\(io))")
            return
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if wrote { report(context, "closed the connection before its first reply: if that port speaks TLS, use rediss://") }
        context.fireChannelInactive()
    }

    private func report(_ context: ChannelHandlerContext, _ what: String) {
        guard !reported else { return }
        reported = true
        context.fireErrorCaught(speaksTLS(what))
    }
}
