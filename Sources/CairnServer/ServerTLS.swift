import CairnCore
import Logging
import NIOCore
import NIOSSL
import Synchronization

/// Where a TLS listener's certificate, key and (for mutual TLS) client CA are, as PEM files.
public struct ServerTLSSettings: Sendable, Equatable {
    /// The server's certificate chain (leaf first), PEM.
    public var certificateFile: String
    /// The private key of the leaf certificate, PEM.
    public var keyFile: String
    /// With a file: every client must present a certificate signed by a CA in it (mutual TLS).
    public var clientCAFile: String?

    public init(certificateFile: String, keyFile: String, clientCAFile: String? = nil) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.clientCAFile = clientCAFile
    }
}

/// The TLS context that new connections of a listener get. `reload` reads the files again and
/// swaps it: connections already open keep the context they started with (their session is
/// unaffected); connections accepted afterwards get the new one.
public final class ServerTLS: Sendable {
    public let settings: ServerTLSSettings
    private let current: Mutex<NIOSSLContext>

    public init(settings: ServerTLSSettings) throws(CairnError) {
        self.settings = settings
        current = Mutex(try ServerTLS.load(settings))
    }

    /// The context for a connection accepted now.
    var context: NIOSSLContext { current.withLock { $0 } }

    /// Reads certificate, key and client CA again. On any error the old context stays in use
    /// and the error says which file is wrong.
    public func reload() throws(CairnError) {
        let fresh = try ServerTLS.load(settings)
        current.withLock { $0 = fresh }
    }

    static func load(_ settings: ServerTLSSettings) throws(CairnError) -> NIOSSLContext {
        let chain = try certificates(in: settings.certificateFile, what: "TLS certificate (--tls-cert)")
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: settings.keyFile, format: .pem)
        } catch {
            throw CairnError(.invalidParams, "cannot read the TLS private key \(settings.keyFile) (--tls-key) as PEM: \(error)", data: ["field": "tls_key"])
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        if let caFile = settings.clientCAFile {
            let authorities = try certificates(in: caFile, what: "client CA (--tls-client-ca)")
            configuration.trustRoots = .certificates(authorities)
            // A client certificate names no host to check; its signature and dates are checked.
            configuration.certificateVerification = .noHostnameVerification
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw CairnError(
                .invalidParams,
                "the TLS certificate \(settings.certificateFile) and key \(settings.keyFile) cannot be used together (does the key belong to the certificate?): \(error)",
                data: ["field": "tls_cert"])
        }
    }

    static func certificates(in file: String, what: String) throws(CairnError) -> [NIOSSLCertificate] {
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(file)
        } catch {
            throw CairnError(.invalidParams, "cannot read the \(what) \(file) as PEM: \(error)", data: ["field": "tls"])
        }
        guard !certificates.isEmpty else {
            throw CairnError(.invalidParams, "the \(what) \(file) holds no PEM certificate", data: ["field": "tls"])
        }
        return certificates
    }

    /// Adds TLS in front of a new connection's pipeline: a check that the client speaks TLS at
    /// all, the TLS handler, and a log line for a handshake that fails.
    func addHandlers(to channel: any Channel, logger: Logger) throws {
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(PlaintextOnTLSGuard(logger: logger, remote: channel.remoteAddress?.description ?? "unknown"))
        try sync.addHandler(NIOSSLServerHandler(context: context))
        try sync.addHandler(TLSHandshakeFailureLog(logger: logger, remote: channel.remoteAddress?.description ?? "unknown", mutual: settings.clientCAFile != nil))
    }
}

/// A TLS record starts with its content type; a client's first record is a handshake (22).
let tlsHandshakeRecordType: UInt8 = 0x16

/// Closes a connection whose first byte is not the start of a TLS handshake — a plaintext
/// client on a TLS listener — before anything is sent to it (no `hello`), and says so in the log.
final class PlaintextOnTLSGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let logger: Logger
    private let remote: String
    private var checked = false

    init(logger: Logger, remote: String) {
        self.logger = logger
        self.remote = remote
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !checked {
            let bytes = unwrapInboundIn(data)
            guard let first = bytes.readableBytesView.first else { return }
            checked = true
            guard first == tlsHandshakeRecordType else {
                logger.warning("plaintext client on the TLS listener from \(remote): its first bytes are not a TLS handshake; closed without a hello (it should connect with cairns://)")
                context.close(promise: nil)
                return
            }
        }
        context.fireChannelRead(data)
    }
}

/// Logs why a connection's TLS handshake failed, in words a person can act on.
final class TLSHandshakeFailureLog: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let logger: Logger
    private let remote: String
    private let mutual: Bool
    private var logged = false

    init(logger: Logger, remote: String, mutual: Bool) {
        self.logger = logger
        self.remote = remote
        self.mutual = mutual
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !logged, error is NIOSSLError || error is BoringSSLError {
            logged = true
            logger.warning("TLS handshake with \(remote) failed: \(TLSFailure.serverSide(error, mutual: mutual))")
        }
        context.fireErrorCaught(error)
    }
}

/// Words for TLS failures as the server sees them.
enum TLSFailure {
    static func serverSide(_ error: any Error, mutual: Bool) -> String {
        let text = String(describing: error)
        if text.contains("PEER_DID_NOT_RETURN_A_CERTIFICATE") {
            return "the client sent no certificate; this listener requires one signed by --tls-client-ca (\(text))"
        }
        if mutual, text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "the client's certificate is not signed by a CA in --tls-client-ca, or is expired (\(text))"
        }
        if text.contains("TLSV1_ALERT_UNKNOWN_CA") || text.contains("SSLV3_ALERT_BAD_CERTIFICATE") || text.contains("CERTIFICATE_UNKNOWN") {
            return "the client does not trust this server's certificate (unknown CA, wrong host name or expired; give the client --tls-ca with the CA that signed it) (\(text))"
        }
        return text
    }
}
