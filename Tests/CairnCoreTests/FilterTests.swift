import CairnCore
import Testing

@Suite struct FilterTests {
    let doc: JSONValue = [
        "status": "open", "score": 9, "ratio": 0.5, "done": false, "tags": ["a", "b"],
        "meta": ["owner": "bob", "level": 10, "deep": ["x": "y"]], "name": "Zoë",
    ]

    func matches(_ filter: JSONValue) throws -> Bool { try Filter(filter).matches(doc) }

    @Test func plainValuesMeanEq() throws {
        #expect(try matches(["status": "open"]))
        #expect(try !matches(["status": "closed"]))
        #expect(try matches(["tags": ["a", "b"]]))
        #expect(try matches(["meta.deep": ["x": "y"]]))
        #expect(try matches(["status": "open", "done": false]))
        #expect(try !matches(["status": "open", "done": true]))
    }

    @Test func everyOperator() throws {
        #expect(try matches(["score": ["$eq": 9]]))
        #expect(try matches(["score": ["$ne": 8]]))
        #expect(try !matches(["score": ["$ne": 9]]))
        #expect(try matches(["score": ["$gt": 8]]))
        #expect(try !matches(["score": ["$gt": 9]]))
        #expect(try matches(["score": ["$gte": 9]]))
        #expect(try matches(["score": ["$lt": 10]]))
        #expect(try !matches(["score": ["$lt": 9]]))
        #expect(try matches(["score": ["$lte": 9]]))
        #expect(try matches(["score": ["$gte": 1, "$lt": 10]]))
        #expect(try !matches(["score": ["$gte": 1, "$lt": 5]]))
    }

    @Test func numbersCompareNumerically() throws {
        #expect(try matches(["score": ["$lt": 10]]))  // 9 < 10, though "9" > "10" as text
        #expect(try matches(["meta.level": ["$gt": 9]]))
        #expect(try matches(["score": 9.0]))
        #expect(try matches(["ratio": ["$lt": 1]]))
    }

    @Test func stringsCompareByCodePoint() throws {
        #expect(try matches(["status": ["$gt": "Zebra"]]))  // 'o' (U+006F) > 'Z' (U+005A)
        #expect(try matches(["name": ["$gt": "Zoe"]]))  // ë (U+00EB) > e
        #expect(try matches(["status": ["$gte": "open", "$lte": "open"]]))
    }

    @Test func mixedTypesNeverMatch() throws {
        #expect(try !matches(["score": "9"]))
        #expect(try !matches(["score": ["$gt": "1"]]))
        #expect(try !matches(["status": ["$lt": 5]]))
        #expect(try !matches(["done": 0]))
    }

    @Test func neIsExactlyTheNegationOfEq() throws {
        // Another type, a missing path, a path through a non-object: $ne matches.
        #expect(try matches(["score": ["$ne": "x"]]))
        #expect(try matches(["score": ["$ne": "9"]]))
        #expect(try matches(["done": ["$ne": 0]]))
        #expect(try matches(["status": ["$ne": ["open"]]]))
        #expect(try matches(["status.deeper": ["$ne": "open"]]))
        let operands: [JSONValue] = [9, 9.0, "9", "open", false, 0, ["a", "b"], ["owner": "bob", "level": 10, "deep": ["x": "y"]], "bob"]
        for path in ["status", "score", "ratio", "done", "tags", "meta", "meta.owner", "missing", "status.x", "tags.0"] {
            for operand in operands {
                let eq = try matches([JSONKey(path): ["$eq": operand]])
                #expect(try matches([JSONKey(path): ["$ne": operand]]) == !eq, "\(path) \(operand)")
            }
        }
    }

    @Test func booleansOnlyEqAndNe() throws {
        #expect(try matches(["done": ["$ne": true]]))
        #expect(try matches(["done": ["$eq": false]]))
        #expect(throws: CairnError.self) { try Filter(["done": ["$gt": false]]) }
    }

    @Test func missingPathMatchesOnlyNe() throws {
        #expect(try matches(["missing": ["$ne": 1]]))
        #expect(try matches(["meta.nothing.deeper": ["$ne": "x"]]))
        for op in ["$eq", "$gt", "$gte", "$lt", "$lte"] {
            #expect(try !matches(["missing": [JSONKey(op): 1]]), "\(op)")
        }
        #expect(try !matches(["missing": "x"]))
    }

    @Test func objectsAndArraysCompareByValue() throws {
        let doc: JSONValue = ["meta": ["a": 1, "b": [2.0, "x"]]]
        #expect(try Filter(["meta": ["b": [2, "x"], "a": 1.0]]).matches(doc))  // member order and 1 vs 1.0 do not matter
        #expect(try Filter(["meta": ["$ne": ["a": 1]]]).matches(doc))
        #expect(try !Filter(["meta.b": ["x", 2]]).matches(doc))  // array order does
    }

    @Test func dottedPaths() throws {
        #expect(try matches(["meta.owner": "bob"]))
        #expect(try matches(["meta.owner": ["$ne": "alice"]]))
        #expect(try matches(["meta.deep.x": "y"]))
        #expect(try matches(["tags.1": "b"]))
        #expect(try !matches(["status.x": "open"]))
    }

    @Test func unknownOperatorsAndBadShapesAreRejected() {
        for bad: JSONValue in [["score": ["$regex": "x"]], ["score": ["$gt": [1]]], "text", ["": 1], ["a..b": 1], ["a": ["$eq": .null]]] {
            do {
                _ = try Filter(bad)
                Issue.record("accepted \(bad)")
            } catch {
                #expect(error.reason == .invalidFilter)
                #expect(error.field == "filter")
            }
        }
    }

    @Test func nonObjectValuesOnlyMatchNe() throws {
        let filter = try Filter(["a": ["$ne": 1]])
        #expect(filter.matches("plain string"))
        #expect(!(try Filter(["a": 1])).matches(.array([1])))
    }
}

@Suite struct TextQueryTests {
    @Test func ranksByRelevanceAndLeavesOutNonMatches() throws {
        let q = try #require(TextQuery("Redis streams"))
        let both = try #require(q.score(["We use Redis streams for events"]))
        let one = try #require(q.score(["redis only"]))
        let repeated = try #require(q.score(["redis redis redis"]))
        #expect(both > one)
        #expect(both > repeated)
        #expect(repeated > one)
        #expect(one > 0)
        #expect(q.score(["nothing here", "streamsx"]) == nil)
        #expect(q.score([]) == nil)
    }

    @Test func caseAndPunctuationInsensitive() throws {
        let q = try #require(TextQuery("ÉCOLE"))
        #expect(q.score(["l'école, c'est"]) != nil)
        #expect(TextQuery("  ,.; ") == nil)
        #expect(TextQuery.words(in: "Hello, World-42!") == ["hello", "world", "42"])
    }
}
