/// Where Redis is and how to talk to it: `redis://[[user]:password@]host[:port][/db]`, or
/// `rediss://…` for TLS.
public struct RedisConfiguration: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    public var database: Int
    /// How many connections each event loop may lend out at once (`RedisPool.withConnection`).
    public var poolSize: Int
    /// How long a connection attempt may take.
    public var connectTimeoutMilliseconds: Int
    /// How long a command may wait for its reply before the connection is declared dead.
    public var commandTimeoutMilliseconds: Int
    /// TLS for every connection (shared, lent and pub/sub ones alike); nil: plain TCP.
    public var tls: RedisTLS?

    public init(
        host: String = "127.0.0.1", port: Int = 6379, username: String? = nil, password: String? = nil,
        database: Int = 0, poolSize: Int = 8, connectTimeoutMilliseconds: Int = 1000,
        commandTimeoutMilliseconds: Int = 5000, tls: RedisTLS? = nil
    ) {
        self.tls = tls
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.poolSize = poolSize
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.commandTimeoutMilliseconds = commandTimeoutMilliseconds
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]` (plain TCP) or `rediss://…` (TLS with
    /// `tls`: system CAs and the URL's host unless it says otherwise). TLS options with a
    /// `redis://` URL are refused rather than ignored: whoever gave them expects TLS. With
    /// `rediss://` this reads the TLS files: call it off the event loops.
    public init(url: String, poolSize: Int = 8, tls options: RedisTLSOptions = RedisTLSOptions()) throws(RedisError) {
        let secure = url.hasPrefix("rediss://")
        guard secure || url.hasPrefix("redis://") else {
            throw RedisError(.configuration, "Redis URL must start with redis:// or rediss:// (got \(RedisConfiguration.redact(url)))")
        }
        guard secure || options.isEmpty else {
            throw RedisError(
                .configuration,
                "Redis TLS settings (--redis-tls-ca, --redis-tls-cert, --redis-tls-key, --redis-tls-server-name) are given, but the Redis URL is redis:// (plain TCP): use rediss:// for TLS")
        }
        var rest = Substring(url.dropFirst(secure ? "rediss://".count : "redis://".count))
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : RedisConfiguration.percentDecode(user)
                password = RedisConfiguration.percentDecode(credentials[credentials.index(after: colon)...])
            } else {
                password = RedisConfiguration.percentDecode(credentials)
            }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let db = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !db.isEmpty {
                guard let n = Int(db), n >= 0 else {
                    throw RedisError(.configuration, "Redis URL database must be a number (got \(db.debugDescription))")
                }
                database = n
            }
        }
        var host = String(rest)
        var port = 6379
        if rest.hasPrefix("[") {  // [::1]:6379
            guard let close = rest.firstIndex(of: "]") else {
                throw RedisError(.configuration, "Redis URL has an unclosed [ in its host")
            }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else {
                    throw RedisError(.configuration, "Redis URL port must be 1-65535")
                }
                port = p
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else {
                throw RedisError(.configuration, "Redis URL port must be 1-65535")
            }
            port = p
        }
        guard !host.isEmpty else { throw RedisError(.configuration, "Redis URL has no host") }
        guard poolSize >= 1 else { throw RedisError(.configuration, "Redis pool size must be at least 1") }
        self.init(
            host: host, port: port, username: username, password: password, database: database, poolSize: poolSize,
            tls: secure ? try RedisTLS(options) : nil)
    }

    /// The URL without its password, fit for logs.
    public var description: String {
        let credentials = password == nil ? "" : "\(username ?? ""):***@"
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(tls == nil ? "redis" : "rediss")://\(credentials)\(shownHost):\(port)/\(database)"
    }

    static func redact(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@") else { return url }
        return "***" + url[at...]
    }

    static func percentDecode(_ s: Substring) -> String {
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%"), it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
