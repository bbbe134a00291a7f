import Foundation
import Synchronization

/// A pub/sub connection on a thread of its own: `PSUBSCRIBE`s to patterns and hands every
/// message to a callback. When the connection breaks (Redis restarted, `CLIENT KILL TYPE
/// pubsub`) it reconnects with a growing pause (up to 2 s) and calls `onConnect` again, so the
/// owner can catch up on whatever it missed meanwhile: pub/sub itself delivers at most once and
/// nothing while disconnected.
///
/// The thread waits with `poll(2)` in slices of 100 ms (never a socket timeout, which would
/// kill a blocking hiredis context), so `stop()` takes effect within one slice.
public final class RedisSubscriber: Sendable {
    public typealias MessageHandler = @Sendable (_ channel: String, _ message: String) -> Void
    public typealias EventHandler = @Sendable (_ connected: Bool, _ detail: String) -> Void

    public let configuration: RedisConfiguration
    public let patterns: [String]
    private let onMessage: MessageHandler
    private let onConnectionChange: EventHandler
    private let stopped = Atomic<Bool>(false)

    public init(
        configuration: RedisConfiguration, patterns: [String], onMessage: @escaping MessageHandler,
        onConnectionChange: @escaping EventHandler
    ) {
        self.configuration = configuration
        self.patterns = patterns
        self.onMessage = onMessage
        self.onConnectionChange = onConnectionChange
    }

    public func start() {
        let t = Thread { [self] in self.loop() }
        t.name = "cairn-redis-subscriber"
        t.start()
    }

    /// Stops the thread (within about 100 ms) and closes the connection.
    public func stop() {
        stopped.store(true, ordering: .sequentiallyConsistent)
    }

    private func loop() {
        var pause = 0.05
        while !stopped.load(ordering: .sequentiallyConsistent) {
            let connection = RedisConnection(configuration: configuration)
            do {
                try connection.connect()
                let confirmations = try connection.pipeline(patterns.map { ["PSUBSCRIBE", $0] })
                for c in confirmations { try c.checked() }
                pause = 0.05
                onConnectionChange(true, "subscribed to \(patterns.joined(separator: ", "))")
                while !stopped.load(ordering: .sequentiallyConsistent) {
                    while let reply = try connection.bufferedReply() { handle(reply) }
                    if connection.waitForData(milliseconds: 100) {
                        handle(try connection.readReply())
                    }
                }
                connection.close()
            } catch {
                connection.close()
                if stopped.load(ordering: .sequentiallyConsistent) { break }
                onConnectionChange(false, "\(error)")
                Thread.sleep(forTimeInterval: pause)
                pause = min(pause * 2, 2)
            }
        }
    }

    private func handle(_ reply: RedisValue) {
        // ["pmessage", pattern, channel, message]
        guard let parts = reply.array, parts.count == 4, parts[0].string == "pmessage",
            let channel = parts[2].string, let message = parts[3].string
        else { return }
        onMessage(channel, message)
    }
}
