import Prometheus
import Synchronization

/// The server's Prometheus metrics, in a registry of its own (so that several servers in one
/// process, as in tests, keep apart).
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let requests = Mutex<[String: Counter]>([:])
    private let latencies = Mutex<[String: DurationHistogram]>([:])
    let openConnections: Gauge
    let redisErrors: Counter
    let rejectedConnections: Counter
    let subscriptionsOpened: Counter
    let subscriptionsClosed: Counter
    let subscriptionsDropped: Counter
    let eventsSent: Counter
    /// Bytes of change events buffered unsent, over every subscription; read when the metrics
    /// are emitted.
    private let eventBufferBytes: Gauge
    private let eventBufferBytesSource = Mutex<(@Sendable () -> Int)?>(nil)

    static let buckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(1000),
    ]

    public init() {
        openConnections = registry.makeGauge(
            descriptor: .init(metricName: "cairn_connections", unitName: "open", helpText: "Open client connections"))
        redisErrors = registry.makeCounter(
            descriptor: .init(metricName: "cairn_redis_errors", unitName: "total", helpText: "Requests that failed because Redis was unreachable or refused"))
        rejectedConnections = registry.makeCounter(
            descriptor: .init(metricName: "cairn_connections_rejected", unitName: "total", helpText: "Connections refused at the connection limit"))
        subscriptionsOpened = registry.makeCounter(
            descriptor: .init(metricName: "cairn_subscriptions_opened", unitName: "total", helpText: "Subscriptions opened"))
        subscriptionsClosed = registry.makeCounter(
            descriptor: .init(metricName: "cairn_subscriptions_closed", unitName: "total", helpText: "Subscriptions ended (unsubscribed, dropped, connection closed)"))
        subscriptionsDropped = registry.makeCounter(
            descriptor: .init(metricName: "cairn_subscriptions_dropped", unitName: "total", helpText: "Subscriptions dropped with a resync because the client read too slowly"))
        eventsSent = registry.makeCounter(
            descriptor: .init(metricName: "cairn_events_sent", unitName: "total", helpText: "Change events sent to subscribers"))
        eventBufferBytes = registry.makeGauge(
            descriptor: .init(metricName: "cairn_event_buffer", unitName: "bytes", helpText: "Bytes of change events buffered unsent, over every subscription (an estimate)"))
    }

    /// Where `cairn_event_buffer_bytes` is read from.
    func observeEventBufferBytes(_ source: @escaping @Sendable () -> Int) {
        eventBufferBytesSource.withLock { $0 = source }
    }

    /// Counts one answered request; `method` must be a known method name (or "unknown").
    func record(method: String, outcome: String, duration: Duration) {
        let key = method + "|" + outcome
        let counter = requests.withLock { cache in
            if let c = cache[key] { return c }
            let c = registry.makeCounter(
                descriptor: .init(metricName: "cairn_requests", unitName: "total", helpText: "Requests by method and outcome (ok or the error reason)"),
                labels: [("method", method), ("outcome", outcome)])
            cache[key] = c
            return c
        }
        counter.increment()
        let histogram = latencies.withLock { cache in
            if let h = cache[method] { return h }
            let h = registry.makeDurationHistogram(
                descriptor: .init(metricName: "cairn_request_duration", unitName: "seconds", helpText: "Request latency inside the server"),
                labels: [("method", method)], buckets: ServerMetrics.buckets)
            cache[method] = h
            return h
        }
        histogram.record(duration)
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> [UInt8] {
        if let source = eventBufferBytesSource.withLock({ $0 }) { eventBufferBytes.set(to: Double(source())) }
        var out: [UInt8] = []
        registry.emit(into: &out)
        return out
    }
}
