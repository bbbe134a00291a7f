import ArgumentParser
import CairnClient
import CairnCore
import Dispatch
import Foundation
import Synchronization

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print every write in a scope as it happens, one line per event.",
        discussion: """
            Subscribes to the scope and prints each write in it: time, operation, namespace \
            (tenant/task/role, - for none), key, version, principal, agent and reason; with --values \
            also the value the write left, as compact JSON; with --json the server's event object, \
            compact, one per line. Every line is flushed at once, so the output can be piped.

            Ctrl-C (SIGINT) or SIGTERM unsubscribes, closes the connection and exits with status 0. \
            Every run ends with `cairn: last cursor: CURSOR` on stderr (the last printed event's, or \
            the subscription's start if none came): `--from CURSOR` resumes right after it, with no gap.

            A `resync` (events may have been missed) is reported on stderr. After `trimmed` the watch \
            goes on; after `too_slow` or `token_revoked` the server has closed the subscription and \
            watch exits with status 1 rather than subscribing again on its own. A lost connection \
            exits with status 5; stdout that can no longer be written (`| head -n 1`), with status 1.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var scope: ScopeOptions

    @Option(
        help: ArgumentHelp(
            "Start right after this cursor (an event's, or a `last cursor:`), replaying the writes since (default: from now).",
            valueName: "cursor"))
    var from: String?

    @Flag(help: "Include the value each write left (null after a delete).")
    var values = false

    @Option(help: ArgumentHelp("Exit (status 0) after n events.", valueName: "n"))
    var count: Int?

    func validate() throws {
        try checkMinimum(count, 1, flag: "--count")
        if let from, from.isEmpty { throw ValidationError("--from must be a cursor such as 1795315825626-0") }
    }

    func run() async throws {
        let scope = try scope.scope()
        let state = WatchState()
        // Installed before connecting, so that no signal finds the default action (death without
        // a cursor): one that comes before the subscription is live is handled once it is.
        let signals = SignalSources([SIGINT, SIGTERM], state.interrupt)
        defer { signals.cancel() }
        let json = global.json, values = self.values, count = self.count
        try await Session.run(global) { session in
            let client = session.client
            let subscription = try await client.subscribe(scope, from: from, includeValues: values)
            state.advance(to: subscription.cursor)
            let follow = Task {
                await Self.follow(client, subscription: subscription.subscription, json: json, values: values, count: count, state: state)
            }
            state.following(follow)
            let end = await follow.value
            switch end {
            case .counted, .interrupted:
                try? await client.unsubscribe(subscription.subscription)
                state.reportCursor()
            case .outputClosed:
                try? await client.unsubscribe(subscription.subscription)
                Output.note("cannot write to stdout (was the reading end of the pipe closed?); stopping")
                state.reportCursor()
                throw ExitCode(ExitStatus.failure)
            case .dropped:
                state.reportCursor()
                throw ExitCode(ExitStatus.failure)
            case .lost:
                Output.error(CairnError(.connectionFailed, "the connection to the server was lost"))
                state.reportCursor()
                throw ExitCode(ExitStatus.unreachable)
            }
        }
    }

    enum End: Sendable {
        /// `--count` events were printed.
        case counted
        /// SIGINT or SIGTERM.
        case interrupted
        /// The server closed the subscription (a `resync` other than `trimmed`).
        case dropped
        /// The connection ended.
        case lost
        /// stdout cannot be written any more.
        case outputClosed
    }

    /// Prints the subscription's events until one of the `End`s.
    static func follow(
        _ client: CairnClient, subscription: String, json: Bool, values: Bool, count: Int?, state: WatchState
    ) async -> End {
        var printed = 0
        for await message in client.notifications {
            // Cancelled by a signal: what is still buffered is not printed, so the last cursor
            // stays the last event printed.
            if state.isInterrupted { return .interrupted }
            guard let params = message["params"], params["subscription"] == .string(subscription) else { continue }  // JSONValue compares by bytes
            let events: [JSONValue]
            switch message["method"]?.stringValue {
            case "event": events = [params]
            case "events": events = params["events"]?.arrayValue ?? []
            case "resync":
                let reason = params["reason"]?.stringValue ?? "?"
                let cursor = params["cursor"]?.stringValue ?? "?"
                Output.note("resync (\(reason)): \(params["message"].map(Output.plain) ?? "events may have been missed") (cursor: \(cursor))")
                guard reason == "trimmed" else {
                    Output.note("the server closed the subscription; re-read what you need, then run watch again with --from")
                    return .dropped
                }
                // The subscription goes on from there: what came before is gone anyway.
                if let cursor = params["cursor"]?.stringValue { state.advance(to: cursor) }
                continue
            default: continue
            }
            for event in events {
                Output.line(json ? event.serialized() : line(event, values: values))
                guard Output.flush() else { return .outputClosed }
                if let cursor = event["cursor"]?.stringValue { state.advance(to: cursor) }
                printed += 1
                if let count, printed >= count { return .counted }
            }
        }
        return state.isInterrupted ? .interrupted : .lost
    }

    /// `AT  OP  TENANT/TASK/ROLE  KEY  vVERSION  by BY[  agent AGENT][  reason "REASON"][  VALUE]`.
    static func line(_ event: JSONValue, values: Bool) -> String {
        func text(_ value: JSONValue?) -> String { value?.stringValue.map { Output.cell($0, limit: .max) } ?? "-" }
        let ns = event["ns"]
        let op = text(event["op"])
        var parts = [
            text(event["at"]), op + String(repeating: " ", count: max(0, 7 - op.count)),
            [ns?["tenant"], ns?["task"], ns?["role"]].map(text).joined(separator: "/"), text(event["key"]),
            "v" + Output.version(event), "by " + text(event["by"]),
        ]
        if let agent = event["agent"]?.stringValue { parts.append("agent " + Output.cell(agent, limit: .max)) }
        if let reason = event["reason"]?.stringValue { parts.append("reason " + JSONValue.string(reason).serialized()) }
        if values { parts.append((event["value"] ?? .null).serialized()) }
        return parts.joined(separator: "  ")
    }
}

/// What a running watch shares with its signal handler: whether it was interrupted, the task
/// printing events (cancelled by the first signal) and the cursor to resume from.
final class WatchState: Sendable {
    private struct State {
        var signals = 0
        var follow: Task<Watch.End, Never>?
        var cursor: String?
    }

    private let state = Mutex(State())

    var isInterrupted: Bool { state.withLock { $0.signals > 0 } }

    /// The cursor to resume after: the subscription's start, then each printed event's.
    func advance(to cursor: String) { state.withLock { $0.cursor = cursor } }

    /// `cairn: last cursor: CURSOR` on stderr.
    func reportCursor() {
        if let cursor = state.withLock({ $0.cursor }) { Output.note("last cursor: \(cursor)") }
    }

    /// The task printing events; cancelled at once if a signal came first.
    func following(_ task: Task<Watch.End, Never>) {
        let interrupted = state.withLock { s in
            s.follow = task
            return s.signals > 0
        }
        if interrupted { task.cancel() }
    }

    /// SIGINT or SIGTERM. The first ends the watch (cancelling the wait for the next event: the
    /// command then unsubscribes and closes); a second one while that still waits for the server
    /// exits at once.
    @Sendable func interrupt() {
        let (signals, follow, cursor) = state.withLock { s in
            s.signals += 1
            return (s.signals, s.follow, s.cursor)
        }
        if signals == 1 {
            follow?.cancel()
            return
        }
        guard let cursor else {
            Output.note("interrupted before the subscription started")
            exit(128 + SIGINT)
        }
        Output.note("last cursor: \(cursor)")
        exit(0)
    }
}

/// Signals handled by `handler` (on a queue of their own) instead of their default action,
/// until `cancel()`.
struct SignalSources {
    private let sources: [any DispatchSourceSignal]

    init(_ signals: [Int32], _ handler: @escaping @Sendable () -> Void) {
        let queue = DispatchQueue(label: "cairn.signals")
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { handler() }
            source.resume()
            return source
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}
