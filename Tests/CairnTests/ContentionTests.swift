@testable import Cairn
import CairnCore
import CairnRedis
import Foundation
import CairnTestSupport
import Testing

@Suite struct ContentionTests {
    @Test func compareAndSetIncrementsLoseNothing() async throws {
        let store = TestRedis.store(StoreOptions(historyLimit: 4000))
        let tenant = uniqueTenant()
        let ns = try Namespace(tenant: tenant, task: "counter")
        try await store.put(ns, key: "n", value: 0, by: alice)
        let tasks = 16, increments = 200
        let conflicts = try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<tasks {
                group.addTask {
                    var conflicts = 0
                    let who = Attribution(principal: "worker-\(worker)")
                    for _ in 0..<increments {
                        while true {
                            let item = try await store.get(ns, key: "n")!
                            do {
                                try await store.put(ns, key: "n", value: .int(item.value.intValue! + 1), ifVersion: item.version, by: who)
                                break
                            } catch let error as CairnError where error.reason == .versionConflict {
                                conflicts += 1
                            }
                        }
                    }
                    return conflicts
                }
            }
            return try await group.reduce(0, +)
        }
        let final = try #require(try await store.get(ns, key: "n"))
        #expect(final.value == .int(tasks * increments))
        #expect(final.version == tasks * increments + 1)
        let history = try await store.history(ns, key: "n", limit: 1000)
        #expect(history.count == 1000)
        var all: [HistoryEntry] = []
        var before: Int? = nil
        while true {
            let page = try await store.history(ns, key: "n", limit: 1000, beforeVersion: before)
            if page.isEmpty { break }
            all += page
            before = page.last!.version
        }
        #expect(all.count == tasks * increments + 1)
        #expect(all.map(\.version) == Array((1...(tasks * increments + 1)).reversed()))
        #expect(all.compactMap(\.value?.intValue) == Array((0...(tasks * increments)).reversed()))
        var log: [LogEntry] = []
        while true {
            let page = try await store.log(try Scope(tenant: tenant), after: log.last?.cursor, limit: 1000)
            if page.isEmpty { break }
            log += page
        }
        #expect(log.count == tasks * increments + 1)
        #expect(log.map(\.version) == Array(1...(tasks * increments + 1)))
        print("cas increments: \(tasks * increments) committed, \(conflicts) conflicts retried")
    }

    @Test func exactlyOneCreateWins() async throws {
        let store = TestRedis.store()
        let ns = try Namespace(tenant: uniqueTenant())
        let results = await withTaskGroup(of: Result<Int, CairnError>.self) { group in
            for i in 0..<16 {
                group.addTask {
                    do throws(CairnError) {
                        return .success(try await store.put(ns, key: "only", value: .int(i), ifVersion: 0, by: alice).version)
                    } catch {
                        return .failure(error)
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let wins = results.compactMap { try? $0.get() }
        #expect(wins == [1])
        let losses = results.compactMap { if case .failure(let e) = $0 { e } else { nil } }
        #expect(losses.count == 15)
        #expect(losses.allSatisfy { $0.reason == .versionConflict && $0.currentVersion == 1 }, "\(losses)")
        #expect(try await store.history(ns, key: "only").count == 1)
    }

    @Test func plainPutsUnderContentionAllLand() async throws {
        let store = TestRedis.store()
        let ns = try Namespace(tenant: uniqueTenant())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<16 {
                group.addTask { for j in 0..<25 { try await store.put(ns, key: "hot", value: .int(i * 100 + j), by: alice) } }
            }
            try await group.waitForAll()
        }
        #expect(try await store.get(ns, key: "hot")?.version == 400)
    }
}
