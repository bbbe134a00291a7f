import CHiredis

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One blocking hiredis connection.
///
/// Every call blocks the calling thread, so a connection is only ever used on a thread of its
/// pool (or a dedicated thread), never on a NIO event loop or Swift's cooperative pool. It is
/// used by one thread at a time: the pool hands it out and takes it back. A connection whose
/// context hit an I/O error frees it and connects again on its next use.
public final class RedisConnection: @unchecked Sendable {
    public let configuration: RedisConfiguration
    private var context: UnsafeMutablePointer<redisContext>?
    /// Replies read since `resetCheckoutCounter()`: tells the pool whether a failure happened on
    /// the very first command of a use (a stale connection, safe to retry).
    private(set) var repliesSinceCheckout = 0

    public init(configuration: RedisConfiguration) {
        RedisConnection.ignoreSIGPIPE
        self.configuration = configuration
    }

    deinit { close() }

    /// hiredis writes with write(2); a peer that closed must not kill the process.
    static let ignoreSIGPIPE: Void = {
        signal(SIGPIPE, SIG_IGN)
    }()

    public var isConnected: Bool { context != nil }

    func resetCheckoutCounter() { repliesSinceCheckout = 0 }

    /// Runs `body` on this connection. When its very first command fails on a connection that
    /// was connected before — a socket left stale by a Redis restart or a killed client — the
    /// command never reached a live Redis, so `body` runs once more on a fresh connection. Bodies
    /// must begin with commands that change nothing (reads, `WATCH`); every caller in Cairn does.
    func retryingStaleSocket<T>(_ body: (RedisConnection) throws -> T) throws -> T {
        let wasConnected = isConnected
        resetCheckoutCounter()
        do {
            return try body(self)
        } catch let error as RedisError where error.kind == .connection && wasConnected && repliesSinceCheckout == 0 {
            resetCheckoutCounter()
            return try body(self)
        }
    }

    /// Frees the context; the next command connects again.
    public func close() {
        if let context { redisFree(context) }
        context = nil
    }

    /// Connects now if not connected (and authenticates, selects the database).
    public func connect() throws(RedisError) {
        if context != nil { return }
        let timeout = RedisConnection.makeTimeval(milliseconds: configuration.connectTimeoutMilliseconds)
        guard let ctx = redisConnectWithTimeout(configuration.host, Int32(configuration.port), timeout) else {
            throw RedisError(.connection, "cannot reach Redis at \(configuration): out of memory")
        }
        if ctx.pointee.err != 0 {
            let message = RedisConnection.errorString(ctx)
            redisFree(ctx)
            throw RedisError(.connection, "cannot reach Redis at \(configuration): \(message)")
        }
        redisSetTimeout(ctx, RedisConnection.makeTimeval(milliseconds: configuration.commandTimeoutMilliseconds))
        context = ctx
        var setup: [RedisCommand] = []
        if let password = configuration.password {
            setup.append(configuration.username.map { ["AUTH", $0, password] } ?? ["AUTH", password])
        }
        if configuration.database != 0 { setup.append(["SELECT", String(configuration.database)]) }
        if !setup.isEmpty {
            let replies = try pipelineReplies(setup)
            for reply in replies {
                if case .error(let message) = reply {
                    close()
                    throw RedisError(.connection, "Redis at \(configuration) refused the connection set-up: \(message)")
                }
            }
        }
        repliesSinceCheckout = 0
    }

    /// Sends one command and waits for its reply. An error reply is returned as `.error`.
    public func send(_ command: RedisCommand) throws(RedisError) -> RedisValue {
        try pipeline([command])[0]
    }

    /// Sends one command; an error reply throws `.server`.
    @discardableResult
    public func run(_ command: RedisCommand) throws(RedisError) -> RedisValue {
        try send(command).checked()
    }

    /// Writes every command, then reads every reply: one round trip for all of them.
    public func pipeline(_ commands: [RedisCommand]) throws(RedisError) -> [RedisValue] {
        try connect()
        return try pipelineReplies(commands)
    }

    private func pipelineReplies(_ commands: [RedisCommand]) throws(RedisError) -> [RedisValue] {
        guard let ctx = context else { throw RedisError(.connection, "not connected to Redis at \(configuration)") }
        for command in commands {
            let status = RedisConnection.withArgv(command.arguments) { argc, argv, lengths in
                redisAppendCommandArgv(ctx, argc, argv, lengths)
            }
            if status != REDIS_OK { throw connectionFailed(ctx) }
        }
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            if redisGetReply(ctx, &raw) != REDIS_OK || raw == nil { throw connectionFailed(ctx) }
            let reply = raw!.assumingMemoryBound(to: redisReply.self)
            replies.append(RedisConnection.convert(reply))
            freeReplyObject(raw)
            repliesSinceCheckout += 1
        }
        return replies
    }

    /// Reads one more reply without sending anything (pub/sub messages). Blocks until one
    /// arrives or the command timeout passes.
    public func readReply() throws(RedisError) -> RedisValue {
        guard let ctx = context else { throw RedisError(.connection, "not connected to Redis at \(configuration)") }
        var raw: UnsafeMutableRawPointer?
        if redisGetReply(ctx, &raw) != REDIS_OK || raw == nil { throw connectionFailed(ctx) }
        defer { freeReplyObject(raw) }
        return RedisConnection.convert(raw!.assumingMemoryBound(to: redisReply.self))
    }

    /// A reply already read off the socket and buffered, without blocking; nil when none is.
    public func bufferedReply() throws(RedisError) -> RedisValue? {
        guard let ctx = context else { return nil }
        var raw: UnsafeMutableRawPointer?
        if redisGetReplyFromReader(ctx, &raw) != REDIS_OK { throw connectionFailed(ctx) }
        guard let raw else { return nil }
        defer { freeReplyObject(raw) }
        return RedisConnection.convert(raw.assumingMemoryBound(to: redisReply.self))
    }

    /// Whether the socket has data, waiting up to `milliseconds`.
    public func waitForData(milliseconds: Int) -> Bool {
        guard let ctx = context else { return false }
        var pfd = pollfd(fd: ctx.pointee.fd, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, Int32(milliseconds)) > 0
    }

    /// `MULTI`, the commands, `EXEC` in one round trip. `.aborted` when a watched key changed.
    /// A command refused while queueing (bad syntax) aborts the whole transaction with an error.
    /// Throws `.connection` when nothing was sent, `.outcomeUnknown` when the connection broke
    /// after the transaction was written — unless `readOnly` (a snapshot read of several keys):
    /// then a break is `.connection`, since nothing can have been written.
    public func transaction(_ commands: [RedisCommand], readOnly: Bool = false) throws(RedisError) -> TransactionOutcome {
        try connect()
        let replies: [RedisValue]
        do {
            replies = try pipelineReplies(TransactionOutcome.commands(wrapping: commands))
        } catch where error.kind == .connection && !readOnly {
            throw RedisError(.outcomeUnknown, error.message + "; the write was sent, its outcome is unknown")
        }
        return try TransactionOutcome(replies: replies)
    }

    private func connectionFailed(_ ctx: UnsafeMutablePointer<redisContext>) -> RedisError {
        let message = RedisConnection.errorString(ctx)
        close()
        return RedisError(.connection, "lost the connection to Redis at \(configuration): \(message)")
    }

    static func errorString(_ ctx: UnsafeMutablePointer<redisContext>) -> String {
        var errstr = ctx.pointee.errstr
        let text = withUnsafeBytes(of: &errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if text.isEmpty {
            return ctx.pointee.err == REDIS_ERR_EOF ? "server closed the connection" : "I/O error \(ctx.pointee.err)"
        }
        if text == "Resource temporarily unavailable" { return "timed out waiting for a reply" }
        return text
    }

    static func makeTimeval(milliseconds: Int) -> timeval {
        timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
    }

    /// Calls `body` with hiredis-style argv/argvlen arrays pointing into one buffer.
    static func withArgv<R>(
        _ arguments: [String],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
    ) -> R {
        var total = 0
        for a in arguments { total += a.utf8.count + 1 }
        var buffer = [UInt8]()
        buffer.reserveCapacity(total)
        var offsets: [Int] = []
        var lengths: [Int] = []
        offsets.reserveCapacity(arguments.count)
        lengths.reserveCapacity(arguments.count)
        for a in arguments {
            offsets.append(buffer.count)
            buffer.append(contentsOf: a.utf8)
            lengths.append(buffer.count - offsets.last!)
            buffer.append(0)
        }
        return buffer.withUnsafeBufferPointer { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
            var argv = offsets.map { Optional(base + $0) }
            return argv.withUnsafeMutableBufferPointer { argvBuffer in
                lengths.withUnsafeBufferPointer { lengthBuffer in
                    body(Int32(arguments.count), argvBuffer.baseAddress!, lengthBuffer.baseAddress!)
                }
            }
        }
    }

    static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            return .string(text(r.str, r.len))
        case REDIS_REPLY_STATUS:
            return .status(text(r.str, r.len))
        case REDIS_REPLY_ERROR:
            return .error(text(r.str, r.len))
        case REDIS_REPLY_INTEGER:
            return .integer(Int(r.integer))
        case REDIS_REPLY_NIL:
            return .null
        case REDIS_REPLY_ARRAY:
            var elements: [RedisValue] = []
            elements.reserveCapacity(r.elements)
            for i in 0..<r.elements {
                if let element = r.element[i] { elements.append(convert(element)) } else { elements.append(.null) }
            }
            return .array(elements)
        default:
            return .error("unknown reply type \(r.type)")
        }
    }

    static func text(_ pointer: UnsafeMutablePointer<CChar>?, _ length: Int) -> String {
        guard let pointer, length > 0 else { return "" }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }
}

extension RedisValue {
    /// The message of an error reply; nil for any other reply.
    public var errorMessage: String? { if case .error(let m) = self { m } else { nil } }
}
