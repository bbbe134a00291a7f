import CairnCore
import CairnProtocol
import Logging
import NIOCore
import Synchronization

/// The time a connection has to authenticate (`auth_timeout_ms`). Armed when the connection
/// opens (only when auth is required); met by the first successful `auth`; requests before
/// that do not move it. When it passes first, the connection is told so — an error with id
/// null, `unauthenticated` — and closed, so idle unauthenticated sockets cannot keep the
/// connection slots that authenticated clients need.
final class AuthDeadline: Sendable {
    private enum State {
        case armed(Scheduled<Void>)
        case met
        case expired
    }

    private let state = Mutex<State?>(nil)

    /// Starts the clock on `channel`'s event loop.
    func arm(on channel: any Channel, milliseconds: Int, logger: Logger) {
        let scheduled = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(milliseconds))) { [self] in
            guard expire() else { return }
            logger.notice("no auth within \(milliseconds) ms: closing")
            var out: [UInt8] = []
            RPCCoding.error(
                id: .null,
                CairnError(
                    .unauthenticated,
                    "no successful auth within \(milliseconds) ms of connecting; the connection is closed. Send auth first when you connect"),
                into: &out)
            out.append(UInt8(ascii: "\n"))
            channel.writeAndFlush(ByteBuffer(bytes: out)).whenComplete { _ in channel.close(promise: nil) }
        }
        let cancelNow: Bool = state.withLock { s in
            guard s == nil else { return true }  // met (or ended) before it was armed
            s = .armed(scheduled)
            return false
        }
        if cancelNow { scheduled.cancel() }
    }

    /// The connection authenticated: the deadline no longer applies.
    func met() {
        let scheduled: Scheduled<Void>? = state.withLock { s in
            switch s {
            case .armed(let scheduled)?:
                s = .met
                return scheduled
            case nil:
                s = .met
                return nil
            case .met?, .expired?:
                return nil
            }
        }
        scheduled?.cancel()
    }

    /// Whether the deadline passed unmet (and now counts as expired).
    private func expire() -> Bool {
        state.withLock { s in
            guard case .armed? = s else { return false }
            s = .expired
            return true
        }
    }
}
