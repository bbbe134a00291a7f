import CairnCore
import Testing

@Suite struct NameTests {
    @Test func validNamespacesKeepEveryCharacter() throws {
        let ns = try Namespace(tenant: "Acmé 株式会社", task: "task:42/{x}%", role: "re searcher 😀")
        #expect(ns.tenant == "Acmé 株式会社")
        #expect(ns.task == "task:42/{x}%")
        #expect(ns.role == "re searcher 😀")
        _ = try Namespace(tenant: String(repeating: "a", count: 128))
        _ = try Namespace(tenant: String(repeating: "é", count: 64))  // 128 bytes
    }

    @Test(arguments: ["tenant", "task", "role"])
    func errorsNameTheComponent(component: String) {
        for bad in ["", String(repeating: "x", count: 129), String(repeating: "é", count: 65), "a\u{0}b", "tab\there", "del\u{7F}", "nl\n"] {
            do {
                _ = try Namespace(
                    tenant: component == "tenant" ? bad : "t", task: component == "task" ? bad : "k",
                    role: component == "role" ? bad : "r", fieldPrefix: "ns.")
                Issue.record("accepted \(bad.debugDescription) as \(component)")
            } catch {
                #expect(error.reason == .invalidNamespace)
                #expect(error.field == "ns.\(component)")
                #expect(error.message.contains(component))
            }
        }
    }

    @Test func keys() throws {
        try Key.validate("a")
        try Key.validate(String(repeating: "k", count: 512))
        try Key.validate("with spaces, :colons: and {braces} 🙂")
        for bad in ["", String(repeating: "k", count: 513), "x\u{1F}y"] {
            #expect(throws: CairnError.self) { try Key.validate(bad) }
            do { try Key.validate(bad, field: "label") } catch { #expect(error.field == "label" && error.reason == .invalidKey) }
        }
    }

    @Test func scopesMatchWholeComponents() throws {
        let any = try Scope(tenant: "a")
        #expect(any.contains(try Namespace(tenant: "a")))
        #expect(any.contains(try Namespace(tenant: "a", task: "t", role: "r")))
        #expect(!any.contains(try Namespace(tenant: "ab")))
        #expect(!(try Scope(tenant: "ab")).contains(try Namespace(tenant: "a")))

        let absentTask = try Scope(tenant: "a", task: .absent)
        #expect(absentTask.contains(try Namespace(tenant: "a", role: "r")))
        #expect(!absentTask.contains(try Namespace(tenant: "a", task: "t")))

        let exact = try Scope(tenant: "a", task: .equals("t"), role: .any)
        #expect(exact.contains(try Namespace(tenant: "a", task: "t")))
        #expect(exact.contains(try Namespace(tenant: "a", task: "t", role: "r")))
        #expect(!exact.contains(try Namespace(tenant: "a", task: "tt")))
        #expect(!exact.contains(try Namespace(tenant: "a")))

        #expect(any.covers(exact))
        #expect(!exact.covers(any))
        #expect(exact.covers(try Scope(tenant: "a", task: .equals("t"), role: .equals("r"))))
        #expect(!absentTask.covers(exact))
    }

    @Test func namespacesSortAbsentFirstThenByCodePoint() throws {
        let list = [
            try Namespace(tenant: "b"), try Namespace(tenant: "a", task: "z"), try Namespace(tenant: "a"),
            try Namespace(tenant: "a", task: "Z", role: "r"), try Namespace(tenant: "a", task: "Z"),
        ]
        #expect(list.sorted().map(\.description) == [
            try Namespace(tenant: "a"), try Namespace(tenant: "a", task: "Z"), try Namespace(tenant: "a", task: "Z", role: "r"),
            try Namespace(tenant: "a", task: "z"), try Namespace(tenant: "b"),
        ].map(\.description))
    }

    @Test func errorCodesFollowTheProtocolTable() {
        #expect(CairnError.Reason.versionConflict.code == 4009)
        #expect(CairnError.Reason.labelTaken.code == 4009)
        #expect(CairnError.Reason.invalidFilter.code == -32602)
        #expect(CairnError.Reason.unavailable.code == 5003)
        #expect(CairnError.Reason.lineTooLong.code == -32600)
        #expect(CairnError.versionConflict(current: 3, expected: 2).currentVersion == 3)
    }
}
