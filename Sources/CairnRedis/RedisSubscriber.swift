import NIOCore
import NIOPosix
import Synchronization

/// What a pub/sub connection hands its subscriber.
public enum RedisPush: Sendable, Hashable {
    /// Connected and subscribed (again). Pub/sub delivers at most once and nothing while
    /// disconnected: whatever was published before this is not coming.
    case subscribed(String)
    /// The connection broke or could not be made; the next attempt follows after a pause.
    case disconnected(String)
    /// A message on a subscribed channel, or on a channel a subscribed pattern matches.
    case message(channel: String, message: String)

    /// A RESP2 push: `["message", channel, payload]` or `["pmessage", pattern, channel, payload]`.
    /// Nil for anything else (subscription confirmations are replies to their commands).
    init?(pushed reply: RedisValue) {
        guard case .array(let parts) = reply, let kind = parts.first?.string else { return nil }
        if kind == "message", parts.count == 3, let channel = parts[1].string, let message = parts[2].string {
            self = .message(channel: channel, message: message)
        } else if kind == "pmessage", parts.count == 4, let channel = parts[2].string, let message = parts[3].string {
            self = .message(channel: channel, message: message)
        } else {
            return nil
        }
    }
}

/// Pub/sub over SwiftNIO: one connection of its own that `PSUBSCRIBE`s to patterns, whose
/// channel handler delivers Redis's pushes. When the connection breaks (Redis restarted,
/// `CLIENT KILL TYPE pubsub`, a consumer too slow for its buffer) it reconnects with a growing
/// pause (50 ms doubling up to 2 s) and subscribes again, and says so, so the owner can catch
/// up on whatever it missed meanwhile.
public final class RedisSubscriber: Sendable {
    public typealias MessageHandler = @Sendable (_ channel: String, _ message: String) -> Void
    public typealias EventHandler = @Sendable (_ connected: Bool, _ detail: String) -> Void

    public let configuration: RedisConfiguration
    public let patterns: [String]
    private let onMessage: MessageHandler
    private let onConnectionChange: EventHandler
    private let consumer = Mutex<Task<Void, Never>?>(nil)

    public init(
        configuration: RedisConfiguration, patterns: [String], onMessage: @escaping MessageHandler,
        onConnectionChange: @escaping EventHandler
    ) {
        self.configuration = configuration
        self.patterns = patterns
        self.onMessage = onMessage
        self.onConnectionChange = onConnectionChange
    }

    /// Starts subscribing; the handlers are called from a task, in the order of the pushes.
    public func start() {
        let pushes = RedisSubscriber.pushes(configuration, patterns: patterns)
        let (onMessage, onConnectionChange) = (self.onMessage, self.onConnectionChange)
        let task = Task {
            for await push in pushes {
                switch push {
                case .message(let channel, let message): onMessage(channel, message)
                case .subscribed(let detail): onConnectionChange(true, detail)
                case .disconnected(let detail): onConnectionChange(false, detail)
                }
            }
        }
        consumer.withLock { $0 = task }
    }

    /// Stops listening and closes the connection; no handler is called after it returns but
    /// one already running.
    public func stop() {
        consumer.withLock { task in
            task?.cancel()
            task = nil
        }
    }

    /// The pushes of a subscription to `patterns`, kept up across reconnects, until the stream's
    /// consumer stops iterating. At most `bufferLimit` pushes wait unread; a message that finds
    /// the buffer full closes the connection (reconnecting then says `.disconnected` and
    /// `.subscribed`, so the consumer re-reads what it may have missed).
    public static func pushes(
        _ configuration: RedisConfiguration, patterns: [String], bufferLimit: Int = 10_000,
        on loop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()
    ) -> AsyncStream<RedisPush> {
        let (stream, continuation) = AsyncStream.makeStream(of: RedisPush.self, bufferingPolicy: .bufferingOldest(max(1, bufferLimit)))
        let onPush: @Sendable (RedisPush) -> Bool = { push in
            if case .dropped = continuation.yield(push) { return false }
            return true
        }
        let task = Task {
            var pause = Duration.milliseconds(50)
            while !Task.isCancelled {
                let detail: String
                do {
                    let connection = try await RedisChannelConnection.connect(configuration, on: loop, onPush: onPush).valueOnCaller()
                    let (ended, subscribed) = await withTaskCancellationHandler { () async -> (String, Bool) in
                        do {
                            for reply in try await connection.pipeline(patterns.map { ["PSUBSCRIBE", $0] }) { try reply.checked() }
                        } catch {
                            return ("\(error)", false)
                        }
                        await deliver(.subscribed("subscribed to \(patterns.joined(separator: ", "))"), continuation)
                        try? await connection.channel.closeFuture.valueOnCaller()
                        return ("the pub/sub connection to Redis at \(configuration) closed", true)
                    } onCancel: {
                        connection.close()
                    }
                    connection.close()
                    if subscribed { pause = .milliseconds(50) }
                    detail = ended
                } catch {
                    detail = "\(error)"
                }
                if Task.isCancelled { break }
                await deliver(.disconnected(detail), continuation)
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(2))
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// A change of connection state must reach the consumer even when its buffer is full of
    /// messages: wait for room (the consumer is reading, or the stream ends).
    private static func deliver(_ push: RedisPush, _ continuation: AsyncStream<RedisPush>.Continuation) async {
        while case .dropped = continuation.yield(push), !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}
