@testable import Cairn
import CairnCore
import CairnTestSupport
import Testing

@Suite struct KeyLayoutTests {
    let layout = KeyLayout()

    /// Random names drawn from the characters most likely to break an encoding.
    func randomName(_ rng: inout some RandomNumberGenerator) -> String {
        let alphabet: [String] = ["a", "b", ":", "{", "}", "%", "%3A", "-", ".", "_", "é", "😀", " ", "/", "\\", "*", "A", "3A", "7B"]
        let length = Int.random(in: 1...5, using: &rng)
        return (0..<length).map { _ in alphabet.randomElement(using: &rng)! }.joined()
    }

    @Test func differentNamesNeverShareARedisKey() throws {
        var rng = SystemRandomNumberGenerator()
        var seen: [String: String] = [:]
        for _ in 0..<20_000 {
            let tenant = randomName(&rng)
            let task = Bool.random(using: &rng) ? randomName(&rng) : nil
            let role = Bool.random(using: &rng) ? randomName(&rng) : nil
            let key = randomName(&rng)
            let ns = try Namespace(tenant: tenant, task: task, role: role)
            let identity = "\(ns.description)|\(key.debugDescription)"
            let redisKey = layout.item(ns, key)
            if let other = seen[redisKey] {
                #expect(other == identity, "\(other) and \(identity) share \(redisKey)")
            }
            seen[redisKey] = identity
            // And the index member decodes back to exactly what went in.
            let decoded = try #require(layout.decodeMember(layout.member(ns, key), tenant: tenant))
            #expect(decoded.0 == ns && decoded.1 == key)
        }
    }

    @Test func absentAndPresentComponentsDiffer() throws {
        let a = try Namespace(tenant: "t", task: "x")
        let b = try Namespace(tenant: "t", role: "x")
        let c = try Namespace(tenant: "t", task: "x:", role: nil)
        #expect(layout.item(a, "k") != layout.item(b, "k"))
        #expect(layout.item(try Namespace(tenant: "t", task: "x", role: "y"), "k") != layout.item(c, "y:k"))
    }

    @Test func everyKeyOfATenantCarriesOneHashTag() throws {
        for tenant in ["acme", "a}b{c", "{x}", "ünï"] {
            let ns = try Namespace(tenant: tenant, task: "{t}", role: "r}")
            let keys = [layout.item(ns, "{k}"), layout.history(ns, "}"), layout.index(tenant), layout.stream(tenant)]
            let tags = keys.map(hashTag)
            #expect(Set(tags).count == 1, "\(keys)")
            #expect(tags[0] == KeyLayout.encode(tenant))
        }
        #expect(hashTag(layout.stream("a")) != hashTag(layout.stream("ab")))
    }

    /// What Redis Cluster hashes: the text between the first `{` and the next `}`.
    func hashTag(_ key: String) -> String {
        guard let open = key.firstIndex(of: "{") else { return key }
        let rest = key[key.index(after: open)...]
        guard let close = rest.firstIndex(of: "}"), close != rest.startIndex else { return key }
        return String(rest[..<close])
    }

    @Test func encodingRoundTrips() {
        for text in ["plain", "with space", "%41", "😀", ":{}:", ""] {
            #expect(KeyLayout.decode(Substring(KeyLayout.encode(text))) == text)
        }
        #expect(KeyLayout.decode("%4") == nil)
        #expect(KeyLayout.decode("%zz") == nil)
    }
}

@Suite struct ItemFieldTests {
    @Test func positionsMatchTheHeaderOrder() {
        typealias At = ItemField.Position
        let expected: [(Int, String)] = [
            (At.version, ItemField.version), (At.kind, ItemField.kind), (At.created, ItemField.created),
            (At.updated, ItemField.updated), (At.deleted, ItemField.deleted), (At.description, ItemField.description),
            (At.limit, ItemField.limit), (At.readOnly, ItemField.readOnly), (At.metadata, ItemField.metadata),
            (At.by, ItemField.by), (At.agent, ItemField.agent),
        ]
        #expect(expected.count == ItemField.header.count)
        for (position, name) in expected { #expect(ItemField.header[position] == name) }
        #expect(ItemField.all.last == ItemField.value)
    }
}
