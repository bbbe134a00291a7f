import CairnCore
import CairnProtocol
import NIOCore
import NIOPosix
import Synchronization

/// A connection to a `cairnd`.
///
/// Every method is an async call that may be made from many tasks at once: requests are written
/// as they come and matched to their responses by id (pipelining), and the server answers them
/// in order. Failures are `CairnError`s: the server's (`reason` as in the protocol) or
/// `connection_failed` when the connection could not be made or broke.
///
/// When the connection breaks, a read or a write (which carries a request id) in flight is sent
/// again on a new connection, authenticated with the same token (see `RetryPolicy`).
/// Notifications and subscriptions belong to the first connection: `notifications` ends when it
/// closes, and a new connection's notifications are not delivered.
public final class CairnClient: Sendable {
    /// The server's `hello` notification.
    public let hello: JSONValue
    /// Server notifications other than `hello` (`event`, `events`, `resync`, …), in arrival order.
    public let notifications: AsyncStream<JSONValue>
    private let current: Mutex<any Channel>
    /// The connection requests are sent on now.
    var channel: any Channel { current.withLock { $0 } }
    private let ids = Atomic<Int>(0)
    private let address: (host: String, port: Int, connectTimeout: Duration, group: any EventLoopGroup, tls: ClientTLS?)
    private let continuation: AsyncStream<JSONValue>.Continuation
    /// The token of the last `auth`, used again on a new connection.
    let token = Mutex<String?>(nil)
    /// How `call` retries writes and reads after 5003/5004.
    public let retryPolicy: RetryPolicy

    private init(
        channel: any Channel, hello: JSONValue, notifications: AsyncStream<JSONValue>, retryPolicy: RetryPolicy,
        address: (host: String, port: Int, connectTimeout: Duration, group: any EventLoopGroup, tls: ClientTLS?),
        continuation: AsyncStream<JSONValue>.Continuation
    ) {
        current = Mutex(channel)
        self.address = address
        self.continuation = continuation
        self.retryPolicy = retryPolicy
        self.hello = hello
        self.notifications = notifications
    }

    /// Connects to `host:port`, waits for `hello` and, with a token, authenticates. With `tls`,
    /// over TLS (the server's certificate verified against `tls.caFile` or the system's CAs,
    /// and against `host`).
    public static func connect(
        host: String = "127.0.0.1", port: Int = ProtocolInfo.defaultPort, token: String? = nil,
        tls tlsOptions: ClientTLSOptions? = nil,
        connectTimeout: Duration = ConnectTimeout.default, retryPolicy: RetryPolicy = RetryPolicy(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(CairnError) -> CairnClient {
        let tls = try tlsOptions.map { options throws(CairnError) in ClientTLS(context: try options.makeContext()) }
        let failures = FirstFailure()
        // Bounded: a reader that falls 100,000 notifications behind loses the connection (the
        // server would drop its subscriptions with a resync long before that).
        let (stream, continuation) = AsyncStream<JSONValue>.makeStream(bufferingPolicy: .bufferingOldest(100_000))
        let channel = try await open(
            host: host, port: port, connectTimeout: connectTimeout, group: group, tls: tls, continuation: continuation, failures: failures)
        // A server that accepts but never greets must not hang the caller: close after the timeout.
        let watchdog = channel.eventLoop.scheduleTask(in: TimeAmount(connectTimeout)) {
            channel.close(promise: nil)
        }
        var iterator = stream.makeAsyncIterator()
        let first = await iterator.next()
        watchdog.cancel()
        guard let hello = first, hello["method"]?.stringValue == "hello" else {
            channel.close(promise: nil)
            if let why = failures.error, why.message != "the connection to the server closed" { throw why }
            if tls == nil {
                throw CairnError(
                    .connectionFailed,
                    "\(host):\(port) did not greet with hello within \(connectTimeout): is it a cairnd? (if it listens with TLS, connect with cairns://)")
            }
            throw CairnError(.connectionFailed, "\(host):\(port) did not greet with hello over TLS within \(connectTimeout): is it a cairnd?")
        }
        let client = CairnClient(
            channel: channel, hello: hello["params"] ?? .null, notifications: stream, retryPolicy: retryPolicy,
            address: (host, port, connectTimeout, group, tls), continuation: continuation)
        if let token { _ = try await client.auth(token: token) }
        return client
    }

    private static func open(
        host: String, port: Int, connectTimeout: Duration, group: any EventLoopGroup, tls: ClientTLS?,
        continuation: AsyncStream<JSONValue>.Continuation, failures: FirstFailure? = nil
    ) async throws(CairnError) -> any Channel {
        do {
            return try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(TimeAmount(connectTimeout))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try tls?.addHandlers(to: channel, host: host, port: port)
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ClientLineDecoder(maxLineBytes: 64 << 20)))
                        try channel.pipeline.syncOperations.addHandler(
                            ClientChannelHandler(notifications: continuation, failures: failures, address: "\(host):\(port)"))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            throw CairnError(.connectionFailed, "cannot connect to cairnd at \(host):\(port): \(error)")
        }
    }

    /// Replaces the broken connection `old` with a new one, authenticated with the last token
    /// (another caller may have done it already: then that one is used).
    func reconnect(replacing old: any Channel) async throws(CairnError) {
        if current.withLock({ $0 !== old && $0.isActive }) { return }
        let fresh = try await CairnClient.open(
            host: address.host, port: address.port, connectTimeout: address.connectTimeout, group: address.group, tls: address.tls,
            continuation: continuation)
        if let token = token.withLock({ $0 }) {
            let response = try await rawCall(RPC.Auth.name, .object(RPC.Auth(token: token).params), on: fresh)
            if let error = response["error"] {
                fresh.close(promise: nil)
                throw RPCCoding.decodeError(error)
            }
        }
        let kept = current.withLock { channel -> Bool in
            guard channel === old || !channel.isActive else { return false }
            channel = fresh
            return true
        }
        if kept { old.close(promise: nil) } else { fresh.close(promise: nil) }
    }

    /// Connects to `cairn://host:port` (plain, or just `host:port`) or `cairns://host:port`
    /// (TLS, with `tls`'s CA and client certificate; the system's CAs without one). `tls` is
    /// only used for `cairns://`. `connectTimeout` bounds the TCP connect and the wait for `hello`.
    public static func connect(
        url: String, token: String? = nil, tls: ClientTLSOptions = ClientTLSOptions(),
        connectTimeout: Duration = ConnectTimeout.default, retryPolicy: RetryPolicy = RetryPolicy()
    ) async throws(CairnError) -> CairnClient {
        let target = try parseTarget(url: url)
        return try await connect(
            host: target.host, port: target.port, token: token, tls: target.tls ? tls : nil, connectTimeout: connectTimeout,
            retryPolicy: retryPolicy)
    }

    public static func parse(url: String) throws(CairnError) -> (host: String, port: Int) {
        let target = try parseTarget(url: url)
        return (target.host, target.port)
    }

    /// Host, port and whether the URL asks for TLS (`cairns://`).
    public static func parseTarget(url: String) throws(CairnError) -> (host: String, port: Int, tls: Bool) {
        var rest = Substring(url)
        var tls = false
        if rest.hasPrefix("cairns://") {
            rest = rest.dropFirst("cairns://".count)
            tls = true
        } else if rest.hasPrefix("cairn://") {
            rest = rest.dropFirst("cairn://".count)
        } else if rest.contains("://") {
            throw CairnError(.invalidParams, "unknown scheme in \(url); use cairn://host:port or cairns://host:port (TLS)")
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        do throws(HostPort.Problem) {
            let address = try HostPort.parse(rest, defaultPort: ProtocolInfo.defaultPort, ports: 1...65535)
            return (address.host, address.port, tls)
        } catch .noHost {
            throw CairnError(.invalidParams, "no host in \(url); use cairn://host:port")
        } catch .unclosedBracket {
            throw CairnError(.invalidParams, "an IPv6 host without its ] in \(url); use cairn://[v6]:port")
        } catch {
            throw CairnError(.invalidParams, "bad port in \(url); use cairn://host:port")
        }
    }

    public func close() async {
        try? await channel.close()
    }

    /// Sends one request and returns its `result` (throws its `error`). A write gets a
    /// `request_id` and, like a read, is sent again after 5003/5004 (see `RetryPolicy`).
    @discardableResult
    public func call(_ method: String, _ params: JSONValue = [:]) async throws(CairnError) -> JSONValue {
        let params = CairnClient.withRequestID(method, params)
        var attempt = 0
        while true {
            attempt += 1
            let used = channel
            let error: CairnError
            do {
                let response = try await rawCall(method, params, on: used)
                guard let failure = response["error"] else { return response["result"] ?? .null }
                error = RPCCoding.decodeError(failure)
            } catch let lost where lost.reason == .connectionFailed && attempt < retryPolicy.maxAttempts
                && CairnClient.survivesReconnect(method) && !Task.isCancelled
            {
                try? await Task.sleep(for: retryPolicy.delay(afterAttempt: attempt, retryAfterMs: nil))
                try await reconnect(replacing: used)
                continue
            }
            // A cancelled caller is not retried for.
            guard attempt < retryPolicy.maxAttempts, CairnClient.isRetryable(method, error), !Task.isCancelled else { throw error }
            try? await Task.sleep(for: retryPolicy.delay(afterAttempt: attempt, retryAfterMs: error.data["retry_after_ms"]?.intValue))
        }
    }

    /// Sends one request and returns the whole response object.
    public func rawCall(_ method: String, _ params: JSONValue = [:]) async throws(CairnError) -> JSONValue {
        try await rawCall(method, params, on: channel)
    }

    private func rawCall(_ method: String, _ params: JSONValue, on channel: any Channel) async throws(CairnError) -> JSONValue {
        let id = ids.add(1, ordering: .relaxed).newValue
        var bytes: [UInt8] = []
        RPCCoding.request(id: id, method: method, params: params, into: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        let promise = channel.eventLoop.makePromise(of: JSONValue.self)
        let request = OutgoingRequest(id: id, bytes: ByteBuffer(bytes: bytes), promise: promise)
        channel.writeAndFlush(request).whenFailure { error in
            promise.fail(error as? CairnError ?? CairnError(.connectionFailed, "cannot send to the server: \(error)"))
        }
        do {
            // A cancelled caller stops waiting at once; the answer, when it comes, is dropped
            // (the connection stays usable: answers are matched by id).
            return try await withCancellableWait(cancelled: {
                CairnError(.outcomeUnknown, "cancelled while waiting for the answer to \(method); the request was sent, its outcome is unknown")
            }) { deliver in promise.futureResult.whenComplete { deliver($0) } }
        } catch let error as CairnError {
            throw error
        } catch {
            throw CairnError(.connectionFailed, "\(error)")
        }
    }
}
