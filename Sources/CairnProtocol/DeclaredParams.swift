import CairnCore
import OrderedCollections

/// The names of the params a method defines. Names compare by their UTF-8 bytes, as every
/// name on the wire does: a member that is not byte for byte one of them is unknown.
public struct DeclaredParams: Sendable, Hashable, ExpressibleByArrayLiteral {
    /// In the order the method lists them (for error messages).
    public let names: [String]

    public init(_ names: [String]) { self.names = names }
    public init(arrayLiteral names: String...) { self.names = names }

    public func contains(_ name: String) -> Bool {
        names.contains { $0.utf8.elementsEqual(name.utf8) }
    }

    /// The first member of `object`, in the order it was sent, that is not declared.
    public func firstUnknown(in object: JSONObject) -> String? {
        object.keys.first { !contains($0.string) }?.string
    }
}
