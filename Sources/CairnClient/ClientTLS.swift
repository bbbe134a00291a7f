import CairnCore
import Foundation
import NIOCore
import NIOSSL
import Synchronization

/// How a client speaks TLS to `cairnd` (`cairns://` URLs): whom it trusts, and the certificate
/// it shows for mutual TLS.
public struct ClientTLSOptions: Sendable, Equatable {
    /// PEM file of the CA(s) that sign the server's certificate; nil: the system's CAs.
    public var caFile: String?
    /// PEM client certificate and its key, for a server that requires mutual TLS.
    public var certificateFile: String?
    public var keyFile: String?

    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// `CAIRN_TLS_CA`, `CAIRN_TLS_CERT` and `CAIRN_TLS_KEY` (an empty variable counts as unset).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> ClientTLSOptions {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        return ClientTLSOptions(caFile: value("CAIRN_TLS_CA"), certificateFile: value("CAIRN_TLS_CERT"), keyFile: value("CAIRN_TLS_KEY"))
    }

    /// The TLS context for these options: TLS 1.2 or newer, the server's certificate verified
    /// against the CAs and the host name. Errors name the file that is wrong.
    func makeContext() throws(CairnError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .fullVerification
        if let caFile {
            configuration.trustRoots = .certificates(try Self.certificates(in: caFile, what: "CA file (--tls-ca)"))
        }
        switch (certificateFile, keyFile) {
        case (nil, nil):
            break
        case (let certificateFile?, let keyFile?):
            let chain = try Self.certificates(in: certificateFile, what: "client certificate (--tls-cert)")
            do {
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            } catch {
                throw CairnError(.invalidParams, "cannot read the client key \(keyFile) (--tls-key) as PEM: \(error)")
            }
            configuration.certificateChain = chain.map { .certificate($0) }
        default:
            throw CairnError(.invalidParams, "a client certificate needs both --tls-cert and --tls-key")
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw CairnError(.invalidParams, "the TLS settings cannot be used (does the key belong to the certificate?): \(error)")
        }
    }

    static func certificates(in file: String, what: String) throws(CairnError) -> [NIOSSLCertificate] {
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(file)
        } catch {
            throw CairnError(.invalidParams, "cannot read the \(what) \(file) as PEM: \(error)")
        }
        guard !certificates.isEmpty else { throw CairnError(.invalidParams, "the \(what) \(file) holds no PEM certificate") }
        return certificates
    }
}

/// A client's TLS context, made once and used for each of its connections (also by
/// `cairn-bench`'s own connections).
public struct ClientTLS: Sendable {
    let context: NIOSSLContext

    init(context: NIOSSLContext) {
        self.context = context
    }

    public init(_ options: ClientTLSOptions) throws(CairnError) {
        context = try options.makeContext()
    }

    /// Adds TLS at the front of a new connection's pipeline (the server's certificate is checked
    /// against `host`).
    public func addHandlers(to channel: any Channel, host: String, port: Int) throws {
        // An IP address is checked against the certificate's IP entries and is never sent as SNI.
        let isAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(PlaintextServerDetector(address: "\(host):\(port)"))
        try sync.addHandler(NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : host))
    }
}

/// A TLS server's first bytes are a handshake record; a cairnd without TLS starts with its
/// `hello` line instead. Names that case rather than leaving it to a TLS parse error.
final class PlaintextServerDetector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let address: String
    private var checked = false

    init(address: String) {
        self.address = address
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !checked {
            guard let first = unwrapInboundIn(data).readableBytesView.first else { return }
            checked = true
            if first != 0x16 {
                context.fireErrorCaught(CairnError(
                    .connectionFailed,
                    "\(address) speaks plaintext, not TLS: connect with cairn:// (or start cairnd with --tls-cert and --tls-key)"))
                context.close(promise: nil)
                return
            }
        }
        context.fireChannelRead(data)
    }
}

/// Words for TLS failures as a client sees them.
enum ClientTLSFailure {
    static func describe(_ error: any Error, address: String) -> CairnError {
        if let error = error as? CairnError { return error }
        let text = String(describing: error)
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return CairnError(.connectionFailed, "TLS to \(address) failed: wrong host: the server's certificate is not for this host name or address (\(text))")
        }
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return CairnError(
                .connectionFailed,
                "TLS to \(address) failed: the server's certificate could not be verified: it is signed by an unknown CA (pass the CA that signed it with --tls-ca / CAIRN_TLS_CA), or it is expired or not yet valid (\(text))")
        }
        if text.contains("CERTIFICATE_REQUIRED") {
            return CairnError(.connectionFailed, "TLS to \(address) failed: the server requires a client certificate (--tls-cert and --tls-key) (\(text))")
        }
        if text.contains("ALERT") {
            return CairnError(.connectionFailed, "TLS to \(address) failed: the server refused the handshake; if it requires mutual TLS, pass a client certificate signed by its CA with --tls-cert and --tls-key (\(text))")
        }
        if error is NIOSSLError || error is BoringSSLError {
            return CairnError(.connectionFailed, "TLS to \(address) failed: \(text)")
        }
        return CairnError(.connectionFailed, "connection error: \(text)")
    }
}

/// The first reason a connection failed, kept for `connect` to report when no `hello` came.
final class FirstFailure: Sendable {
    private let value = Mutex<CairnError?>(nil)

    func note(_ error: CairnError) {
        value.withLock { if $0 == nil { $0 = error } }
    }

    var error: CairnError? { value.withLock { $0 } }
}
