import ArgumentParser
import CairnClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// `cairn health`: cairnd's readiness (or liveness) over its metrics listener. `cairn ping`
/// only proves the protocol port answers; it says nothing about Redis.
struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask cairnd whether it is ready: Redis answers and the change feed listens.",
        discussion: """
            `cairn ping` checks that cairnd answers on its protocol port, which it does while its \
            Redis is down too (requests then fail with 'unavailable'). `cairn health` asks \
            GET /health/ready on cairnd's metrics listener (cairnd --metrics-listen) and prints \
            the answer: exit 0 when ready; exit 5 with the reasons when not ready, or when nothing \
            answers in time. With --live it asks /health/live instead: whether the process serves \
            at all. No token is needed: the metrics listener has no authentication, keep it private.
            """)

    @Option(help: "cairnd's metrics listener, http://host:port, or https://host:port when cairnd runs with TLS. Env CAIRN_METRICS_URL. Default http://127.0.0.1:9420.")
    var metricsURL: String?

    @Option(
        name: .customLong("tls-ca"),
        help: ArgumentHelp("PEM CA file that signs cairnd's certificate, for https:// (default: $CAIRN_TLS_CA, else the system's CAs).", valueName: "path"))
    var tlsCA: String?

    @Flag(help: "Only check that the process is up (/health/live).")
    var live = false

    @Option(help: "Seconds to wait for the answer.")
    var timeout: Double = 5

    func validate() throws {
        guard timeout > 0, timeout <= 600 else { throw ValidationError("--timeout must be between 0 and 600 seconds (got \(timeout))") }
        _ = try Health.address(resolvedURL)
    }

    var resolvedURL: String {
        metricsURL ?? ProcessInfo.processInfo.environment["CAIRN_METRICS_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "http://127.0.0.1:9420"
    }

    func run() async throws {
        let (host, port) = try Health.address(resolvedURL)
        let secure = resolvedURL.hasPrefix("https://")
        let path = live ? "/health/live" : "/health/ready"
        let url = "\(secure ? "https" : "http")://\(host.contains(":") ? "[\(host)]" : host):\(port)\(path)"
        do {
            let tls = secure ? try ClientTLS(ClientTLSOptions(caFile: tlsCA ?? environment("CAIRN_TLS_CA"))) : nil
            let answer = try await HealthProbe.get(
                host: host, port: port, path: path, tls: tls, timeout: .milliseconds(Int64(timeout * 1000)))
            let text = answer.body.hasSuffix("\n") ? String(answer.body.dropLast()) : answer.body
            if answer.status == 200 {
                Output.line("\(text) (\(url))")
                return
            }
            Output.stderr("cairn: unavailable: not ready: \(url) answered \(answer.status): \(text)")
        } catch {
            Output.stderr("cairn: connection_failed: no answer from \(url): \(error) (is cairnd running with --metrics-listen on that address?)")
        }
        throw ExitCode(5)
    }

    /// `http://host:port` or `https://host:port` (a trailing `/` allowed; `[v6]` hosts) → host and port.
    static func address(_ url: String) throws -> (String, Int) {
        guard let scheme = ["http://", "https://"].first(where: { url.hasPrefix($0) }) else {
            throw ValidationError("the metrics URL must look like http://host:port (got \(url.debugDescription))")
        }
        var rest = Substring(url.dropFirst(scheme.count))
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        let host: Substring
        let portText: Substring
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            host = rest[rest.index(after: rest.startIndex)..<close]
            portText = rest[rest.index(after: close)...].dropFirst()
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            throw ValidationError("the metrics URL needs a port: http://host:port (got \(url.debugDescription))")
        }
        guard !host.isEmpty, !host.contains("/"), let port = Int(portText), (1...65535).contains(port) else {
            throw ValidationError("the metrics URL must look like http://host:port (got \(url.debugDescription))")
        }
        return (String(host), port)
    }
}

/// One `GET` over HTTP/1.1, for the health endpoints: status and body (at most 64 KiB).
enum HealthProbe {
    struct Answer: Sendable {
        var status: Int
        var body: String
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func get(host: String, port: Int, path: String, tls: ClientTLS? = nil, timeout: TimeAmount) async throws -> Answer {
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: Answer.self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try tls?.addHandlers(to: channel, host: host, port: port)
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(HealthProbeHandler(host: host, path: path, promise: promise))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            promise.fail(error)  // a promise must not be dropped unfulfilled
            throw error
        }
        let seconds = Double(timeout.nanoseconds) / 1e9
        let deadline = channel.eventLoop.scheduleTask(in: timeout) {
            // The handler says why first; the close that follows then changes nothing.
            channel.pipeline.fireUserInboundEventTriggered(HealthProbeHandler.TimedOut(seconds: seconds))
            channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        return try await promise.futureResult.get()
    }
}

final class HealthProbeHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    static let maxBodyBytes = 65_536
    let host: String
    let path: String
    let promise: EventLoopPromise<HealthProbe.Answer>
    private var status = 0
    private var body: [UInt8] = []
    private var done = false

    init(host: String, path: String, promise: EventLoopPromise<HealthProbe.Answer>) {
        self.host = host
        self.path = path
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: host)
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
        case .body(var buffer):
            let room = HealthProbeHandler.maxBodyBytes - body.count
            if room > 0, let bytes = buffer.readBytes(length: min(room, buffer.readableBytes)) { body += bytes }
        case .end:
            finish(.success(.init(status: status, body: String(decoding: body, as: UTF8.self))))
            context.close(promise: nil)
        }
    }

    /// The probe's deadline passed (see `HealthProbe.get`).
    struct TimedOut { var seconds: Double }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let timedOut = event as? TimedOut {
            finish(.failure(HealthProbe.Failure(description: "no answer within \(timedOut.seconds) s (--timeout)")))
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(HealthProbe.Failure(description: "the connection closed before an answer came")))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(error))
        context.close(promise: nil)
    }

    private func finish(_ result: Result<HealthProbe.Answer, any Error>) {
        guard !done else { return }
        done = true
        promise.completeWith(result)
    }
}
