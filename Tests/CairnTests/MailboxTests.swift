import CairnCore
import Synchronization
import Testing

@testable import Cairn

/// The subscription buffer's bounds and byte accounting, without Redis (pure logic).
@Suite struct MailboxTests {
    final class Flag: Sendable {
        let raised = Atomic<Int>(0)
    }

    static func box(capacity: Int = 10, maxBytes: Int = .max, budget: FeedBudget, flag: Flag = Flag()) -> Mailbox<Int> {
        Mailbox<Int>(capacity: capacity, maxBytes: maxBytes, budget: budget, weigh: { $0 }, onRoom: { flag.raised.add(1, ordering: .relaxed) })
    }

    @Test func bytesAreTakenWhenQueuedAndGivenBackWhenTheyLeave() async {
        let budget = FeedBudget(limit: 1000)
        let box = Self.box(budget: budget)
        #expect(box.push(100) == .accepted)
        #expect(box.push(200) == .accepted)
        #expect(budget.bytes == 300 && box.bytes == 300)
        #expect(await box.next() == 100)
        #expect(budget.bytes == 200)
        #expect(box.drain() == [200])
        #expect(budget.bytes == 0)
        // A reader already waiting takes the element straight away: nothing is buffered.
        let reader = Task { await box.next() }
        // Until the reader waits: each try yields, so the reader's task gets a thread even when
        // the cooperative pool is busy (a tight loop here once starved it for good).
        let deadline = ContinuousClock.now + .seconds(30)
        while box.push(50) == .accepted && budget.bytes > 0 && ContinuousClock.now < deadline {
            _ = box.drain()
            await Task.yield()
        }
        #expect(await reader.value == 50)
        #expect(budget.bytes == 0)
    }

    @Test func theBudgetIsSharedAndRefusesWhatDoesNotFit() {
        let budget = FeedBudget(limit: 500)
        let a = Self.box(budget: budget)
        let b = Self.box(budget: budget)
        #expect(a.push(300) == .accepted)
        #expect(b.push(300) == .overBudget)
        #expect(b.push(200) == .accepted)
        #expect(budget.bytes == 500)
        a.replaceAll(with: 0)  // dropped: its bytes come back at once
        #expect(budget.bytes == 200)
        #expect(b.push(300) == .accepted)
    }

    @Test func theLastMessageAfterADropBalancesToo() async {
        let budget = FeedBudget(limit: 10_000)
        let box = Self.box(budget: budget)
        for _ in 0..<3 { _ = box.push(100) }
        box.replaceAll(with: 64)
        #expect(budget.bytes == 64)
        #expect(await box.next() == 64)
        #expect(await box.next() == nil)
        #expect(budget.bytes == 0)
    }

    @Test func aMailboxThatGoesGivesItsBytesBack() {
        let budget = FeedBudget(limit: 10_000)
        do {
            let box = Self.box(budget: budget)
            for _ in 0..<5 { _ = box.push(100) }
            box.finish()
            #expect(budget.bytes == 500)
        }
        #expect(budget.bytes == 0)
    }

    @Test func limitsInElementsAndBytes() {
        let budget = FeedBudget(limit: .max)
        let byCount = Self.box(capacity: 3, budget: budget)
        for _ in 0..<3 { #expect(byCount.push(1) == .accepted) }
        #expect(byCount.push(1) == .full)
        let byBytes = Self.box(capacity: 100, maxBytes: 250, budget: budget)
        #expect(byBytes.push(200) == .accepted)
        #expect(byBytes.push(100) == .full)
        #expect(byBytes.push(50) == .accepted)
    }

    @Test func aRunStopsAtTheFirstElementThatDoesNotFit() async {
        let budget = FeedBudget(limit: .max)
        let box = Self.box(capacity: 4, budget: budget)
        let (added, stop) = box.push(contentsOf: [1, 2, 3, 4, 5, 6])
        #expect(added == 4 && stop == .full)
        #expect(box.drain() == [1, 2, 3, 4])
        let (all, done) = box.push(contentsOf: [7, 8])
        #expect(all == 2 && done == .accepted)
        box.finish()
        #expect(box.push(contentsOf: [9]).stop == .closed)
    }

    @Test func aWriterWaitingForRoomIsCalledOnceTheReaderMadeIt() async {
        let budget = FeedBudget(limit: .max)
        let flag = Flag()
        let box = Self.box(capacity: 10, budget: budget, flag: flag)
        #expect(box.wantsRoom())  // empty: room
        _ = box.push(contentsOf: Array(1...8))
        #expect(!box.wantsRoom())  // 8 of 10 queued: wait
        #expect(await box.next() == 1)
        #expect(await box.next() == 2)
        #expect(flag.raised.load(ordering: .relaxed) == 0)  // 6 left: still more than half
        #expect(await box.next() == 3)
        #expect(flag.raised.load(ordering: .relaxed) == 1)  // 5 left: half free
        #expect(await box.next() == 4)
        #expect(flag.raised.load(ordering: .relaxed) == 1)  // once per wait
    }
}
