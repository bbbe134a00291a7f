/// The optional parts of the protocol (PROTOCOL.md, version 1.1) this server offers on a
/// connection, as `hello`'s `"features"` names them: `"request_id"`, `"ttl"`, `"vectors"`,
/// `"tls"`, `"cluster"`. The one place that decides the list: a feature adds its name here,
/// under the condition that makes it work (a TLS listener, a cluster, vector sets in Redis).
enum ServerFeatures {
    static func announced(by context: ServerContext) -> [String] {
        // Every write method takes `request_id` and replays it (see `StoreRequests`).
        var features = ["request_id"]
        // Every connection of a TLS listener is TLS (a plaintext client is closed before hello).
        if context.configuration.tls != nil { features.append("tls") }
        return features
    }
}
