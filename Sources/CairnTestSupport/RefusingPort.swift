import Cairn
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` with a loopback TCP port on which every connection is refused, for as long as
/// `body` runs: a socket of ours is bound to the port and never listens. A port that merely
/// "was free a moment ago" may be taken by another test's server before it is used (then a test
/// meant to see "connection refused" talks to that server instead); a port held like this cannot
/// be bound by anyone else, so the refusal is certain.
public func withRefusingPort<T>(_ body: (Int) async throws -> T) async throws -> T {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw CairnError(.internalError, "socket() failed: errno \(errno)") }
    defer { close(descriptor) }
    // No SO_REUSEADDR: then no other socket can bind this port, with or without it.
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
    }
    guard bound == 0 else { throw CairnError(.internalError, "bind(127.0.0.1:0) failed: errno \(errno)") }
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    guard named == 0 else { throw CairnError(.internalError, "getsockname() failed: errno \(errno)") }
    return try await body(Int(UInt16(bigEndian: address.sin_port)))
}
