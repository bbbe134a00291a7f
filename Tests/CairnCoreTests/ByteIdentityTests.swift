import CairnCore
import Testing

/// Pairs of different byte strings that Swift's `String ==` calls equal (canonical equivalence).
let lookAlikes: [(String, String)] = [
    ("\u{212A}raken", "Kraken"),  // KELVIN SIGN vs K
    ("\u{E9}", "e\u{301}"),  // NFC vs NFD
    ("\u{212B}", "\u{C5}"),  // ANGSTROM SIGN vs Å
    ("\u{2126}", "\u{3A9}"),  // OHM SIGN vs Ω
]

@Suite struct ByteIdentityTests {
    @Test func stringEqualityWouldMergeThePairs() {
        // The premise of every test here: without byte identity these are one name.
        for (a, b) in lookAlikes { #expect(a == b && Array(a.utf8) != Array(b.utf8), "\(a.debugDescription)") }
    }

    @Test func namesCompareHashAndSortByBytes() {
        for (a, b) in lookAlikes {
            #expect(Name(a) != Name(b))
            #expect(Name(a) == Name(String(decoding: Array(a.utf8), as: UTF8.self)))
            #expect(Set([Name(a), Name(b)]).count == 2)
            #expect([Name(a): 1, Name(b): 2].count == 2)
            #expect((Name(a) < Name(b)) == a.utf8.lexicographicallyPrecedes(b.utf8))
            #expect((Name(a) < Name(b)) != (Name(b) < Name(a)))
            #expect(JSONKey(a) != JSONKey(b))
            #expect(Set([JSONKey(a), JSONKey(b)]).count == 2)
            #expect(JSONValue.string(a) != .string(b))
            #expect(Set([JSONValue.string(a), .string(b)]).count == 2)
        }
        #expect(Name("") == Name(""))
        #expect(Name("a") < Name("b") && Name("Z") < Name("a") && Name("a") < Name("ab"))
    }

    @Test func namespacesAndScopesAreByteExact() throws {
        for (a, b) in lookAlikes {
            let (nsA, nsB) = (try Namespace(tenant: a), try Namespace(tenant: b))
            #expect(nsA != nsB)
            #expect(Set([nsA, nsB]).count == 2)
            #expect((nsA < nsB) != (nsB < nsA))
            #expect(!Scope(exactly: nsA).contains(nsB) && Scope(exactly: nsA).contains(nsA))
            #expect(!(try Scope(tenant: a)).covers(try Scope(tenant: b)))
            let (taskA, taskB) = (try Namespace(tenant: "t", task: a), try Namespace(tenant: "t", task: b, role: nil))
            #expect(taskA != taskB)
            #expect(!(try Scope(tenant: "t", task: .equals(Name(a)))).contains(taskB))
            #expect((try Scope(tenant: "t", task: .equals(Name(a)))).contains(taskA))
            let (roleA, roleB) = (try Namespace(tenant: "t", role: a), try Namespace(tenant: "t", role: b))
            #expect(!(try Scope(tenant: "t", role: .equals(Name(a)))).contains(roleB))
            #expect(Set([roleA, roleB]).count == 2)
            #expect(!(try Scope(tenant: "t", task: .equals(Name(a)))).covers(try Scope(tenant: "t", task: .equals(Name(b)))))
        }
    }

    @Test func jsonObjectsKeepLookAlikeKeysApart() throws {
        for (a, b) in lookAlikes {
            var text: [UInt8] = []
            text += Array("{\"".utf8) + Array(a.utf8) + Array("\":1,\"".utf8) + Array(b.utf8) + Array("\":2}".utf8)
            let value = try JSONValue(parsing: String(decoding: text, as: UTF8.self))
            #expect(value.objectValue?.count == 2)
            #expect(value[a] == 1 && value[b] == 2)
            #expect(value.serializedBytes() == text)
            #expect(try JSONValue(parsing: value.serialized()) == value)
            // Built in code, too.
            var object = JSONObject()
            object[a] = 1
            object[b] = 2
            #expect(object.count == 2 && object[JSONKey(a)] == 1)
            #expect(JSONValue.object(object) == value)
            let swapped: JSONValue = [JSONKey(a): 2, JSONKey(b): 1]
            #expect(swapped != value)
        }
        // Byte-identical duplicates keep today's behaviour: one member, the last value, first position.
        let duplicate = try JSONValue(parsing: #"{"x":1,"y":0,"x":2}"#)
        #expect(duplicate.serialized() == #"{"x":2,"y":0}"#)
    }

    @Test func filterPathsAndEqualityAreByteExact() throws {
        for (a, b) in lookAlikes {
            let value: JSONValue = [JSONKey(a): 1, "s": .string(a), "o": [JSONKey(a): true]]
            #expect(try Filter([JSONKey(a): 1]).matches(value))
            #expect(try !Filter([JSONKey(b): 1]).matches(value))
            #expect(try Filter([JSONKey(b): ["$ne": 1]]).matches(value))  // missing path
            #expect(try Filter(["s": .string(a)]).matches(value))
            #expect(try !Filter(["s": .string(b)]).matches(value))
            #expect(try Filter(["o": [JSONKey(a): true]]).matches(value))
            #expect(try !Filter(["o": [JSONKey(b): true]]).matches(value))
            #expect(try Filter([JSONKey("o." + a): true]).matches(value))
            #expect(try !Filter([JSONKey("o." + b): true]).matches(value))
        }
        // A path splits at the byte ".", even where "." and a combining mark form one Character.
        let dotted: JSONValue = ["a": ["\u{301}b": 1]]
        #expect(try Filter([JSONKey("a.\u{301}b"): 1]).matches(dotted))
    }
}
