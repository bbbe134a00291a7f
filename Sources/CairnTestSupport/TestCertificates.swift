import Foundation
import NIOPosix

/// Throw-away certificates made at test time with the `openssl` binary: a CA, server
/// certificates it signs (for `127.0.0.1`/`localhost`, or for another host only), and a client
/// certificate for mutual TLS. Everything lives in a fresh temporary folder.
public struct TestCertificates: Sendable {
    public let folder: String

    public var caCertificate: String { "\(folder)/ca.pem" }
    public var serverCertificate: String { "\(folder)/server.pem" }
    public var serverKey: String { "\(folder)/server-key.pem" }
    /// Signed by the CA, but for `wrong.example` only.
    public var otherHostCertificate: String { "\(folder)/other-host.pem" }
    public var otherHostKey: String { "\(folder)/other-host-key.pem" }
    public var clientCertificate: String { "\(folder)/client.pem" }
    public var clientKey: String { "\(folder)/client-key.pem" }

    /// A CA and its certificates; `name` tells two sets apart in their subjects. `openssl` runs
    /// (seven times, RSA key generation each) on NIO's blocking pool: on Swift's cooperative
    /// pool — two threads here — several suites making certificates at once stalled every other
    /// test's deadlines for tens of seconds.
    public init(name: String = "cairn-test") async throws {
        self = try await NIOThreadPool.singleton.runIfActive { try TestCertificates(generating: name) }
    }

    /// The same, made on the calling thread: only for set-up that is not async (the shared TLS
    /// Redis, made once before any test runs).
    public static func generatedBlocking(name: String) throws -> TestCertificates {
        try TestCertificates(generating: name)
    }

    private init(generating name: String) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(folder)/ca-key.pem", "-out", caCertificate,
                     "-days", "2", "-subj", "/CN=\(name) CA",
                     "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        try issue("server", subject: "/CN=localhost", extensions: "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        try issue("other-host", subject: "/CN=wrong.example", extensions: "subjectAltName=DNS:wrong.example\nextendedKeyUsage=serverAuth\n")
        try issue("client", subject: "/CN=agent", extensions: "extendedKeyUsage=clientAuth\n")
    }

    /// Copies this set's server certificate and key over `path`/`keyPath` (a renewal on disk).
    public func installServerCertificate(at path: String, key keyPath: String) throws {
        for (from, to) in [(serverCertificate, path), (serverKey, keyPath)] {
            let data = try Data(contentsOf: URL(fileURLWithPath: from))
            try data.write(to: URL(fileURLWithPath: to), options: .atomic)
        }
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: folder)
    }

    private func issue(_ base: String, subject: String, extensions: String) throws {
        let extFile = "\(folder)/\(base).ext"
        try extensions.write(toFile: extFile, atomically: true, encoding: .utf8)
        try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(folder)/\(base)-key.pem", "-out", "\(folder)/\(base).csr",
                     "-subj", subject])
        try openssl(["x509", "-req", "-in", "\(folder)/\(base).csr", "-CA", caCertificate, "-CAkey", "\(folder)/ca-key.pem",
                     "-CAcreateserial", "-out", "\(folder)/\(base).pem", "-days", "2", "-extfile", extFile])
    }

    private func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestCertificateError(message: "openssl \(arguments.first ?? "") failed: \(String(decoding: message, as: UTF8.self))")
        }
    }
}

public struct TestCertificateError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
