import CairnCore
import CairnProtocol
import Logging
import NIOCore
import Synchronization

/// The time a connection has to authenticate (`auth_timeout_ms`). Armed when the connection
/// opens (only when auth is required); met by a successful `auth`; requests before that do not
/// move it. When it passes first, the connection is told so — an error with id null,
/// `unauthenticated` — and closed, so idle unauthenticated sockets cannot keep the connection
/// slots that authenticated clients need. A connection that loses its identity (its token
/// revoked, or a failed `auth` replacing it) gets a new deadline, counted from then.
final class AuthDeadline: Sendable {
    private enum Phase {
        /// Not armed yet.
        case idle
        case armed(Scheduled<Void>)
        /// Authenticated: no deadline runs.
        case met
        /// Passed: the connection is being closed.
        case expired
        /// The connection closed: never armed again.
        case ended
    }

    /// Where and how long, once `arm` was called.
    private struct Clock: Sendable {
        var channel: any Channel
        var milliseconds: Int
        var logger: Logger
    }

    private let state = Mutex<(phase: Phase, clock: Clock?)>((.idle, nil))

    /// Starts the clock on `channel`'s event loop.
    func arm(on channel: any Channel, milliseconds: Int, logger: Logger) {
        let clock = Clock(channel: channel, milliseconds: milliseconds, logger: logger)
        state.withLock { $0.clock = clock }
        start(from: .idle)
    }

    /// The connection authenticated: no deadline runs now.
    func met() {
        let scheduled: Scheduled<Void>? = state.withLock { s in
            switch s.phase {
            case .armed(let scheduled):
                s.phase = .met
                return scheduled
            case .idle:
                s.phase = .met
                return nil
            case .met, .expired, .ended:
                return nil
            }
        }
        scheduled?.cancel()
    }

    /// The connection lost its identity: a full deadline runs again from now.
    func rearm() {
        start(from: .met)
    }

    /// The connection closes: the deadline is cancelled for good.
    func end() {
        let scheduled: Scheduled<Void>? = state.withLock { s in
            defer { s.phase = .ended }
            if case .armed(let scheduled) = s.phase { return scheduled }
            return nil
        }
        scheduled?.cancel()
    }

    /// Schedules the deadline if the phase is `from` (`.idle` or `.met`) and the clock is known.
    private func start(from expected: Phase) {
        state.withLock { s in
            guard let clock = s.clock else { return }
            switch (s.phase, expected) {
            case (.idle, .idle), (.met, .met): break
            default: return
            }
            s.phase = .armed(clock.channel.eventLoop.scheduleTask(in: .milliseconds(Int64(clock.milliseconds))) { [self] in
                self.expire(clock)
            })
        }
    }

    private func expire(_ clock: Clock) {
        let due: Bool = state.withLock { s in
            guard case .armed = s.phase else { return false }
            s.phase = .expired
            return true
        }
        guard due else { return }
        clock.logger.notice("no auth within \(clock.milliseconds) ms: closing")
        var out: [UInt8] = []
        RPCCoding.error(
            id: .null,
            CairnError(
                .unauthenticated,
                "not authenticated within \(clock.milliseconds) ms; the connection is closed. Send auth first when you connect"),
            into: &out)
        out.append(UInt8(ascii: "\n"))
        let channel = clock.channel
        channel.writeAndFlush(ByteBuffer(bytes: out)).whenComplete { _ in channel.close(promise: nil) }
    }
}
