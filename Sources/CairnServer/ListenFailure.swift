import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a listening socket could not be opened, said so that a person knows what to change:
/// the address, and the flag (and environment variable) that sets it.
public struct ListenFailure: Error, Sendable, CustomStringConvertible {
    public var address: String
    public var flag: String
    public var environmentVariable: String
    public var cause: String
    public var addressInUse: Bool

    public init(address: String, flag: String, environmentVariable: String, error: any Error) {
        self.address = address
        self.flag = flag
        self.environmentVariable = environmentVariable
        let errno = (error as? IOError)?.errnoCode
        addressInUse = errno == EADDRINUSE
        cause =
            switch errno {
            case EADDRINUSE?: "the address is already in use (another cairnd, or another program, listens there)"
            case EADDRNOTAVAIL?: "no interface of this host has that address"
            case EACCES?: "permission denied (ports below 1024 need privileges)"
            default: "\(error)"
            }
    }

    public var description: String {
        "cannot listen on \(address): \(cause); stop that process or choose another address with \(flag) host:port (or \(environmentVariable))"
    }
}
