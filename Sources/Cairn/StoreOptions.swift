import CairnCore

/// Limits and retention of a `Store`.
public struct StoreOptions: Sendable, Hashable {
    /// Key prefix, so that several stores may share one Redis database.
    public var keyPrefix: String
    /// Versions of history kept per item (older ones are trimmed).
    public var historyLimit: Int
    /// Approximate number of entries kept in each tenant's change stream (`XADD MAXLEN ~`).
    public var streamLength: Int
    /// Largest value accepted, in bytes of its compact JSON text.
    public var maxValueBytes: Int
    /// Largest `reason` accepted, in bytes.
    public var maxReasonBytes: Int
    /// How often a write whose `WATCH` was aborted by a concurrent write is tried in all.
    public var maxWriteAttempts: Int
    /// How long a request id's record (and so a replay's answer) is kept, in milliseconds.
    public var requestIDRetentionMs: Int

    public init(
        keyPrefix: String = "cairn", historyLimit: Int = 100, streamLength: Int = 100_000,
        maxValueBytes: Int = 256 * 1024, maxReasonBytes: Int = 4096, maxWriteAttempts: Int = 128,
        requestIDRetentionMs: Int = 86_400_000
    ) {
        self.keyPrefix = keyPrefix
        self.historyLimit = historyLimit
        self.streamLength = streamLength
        self.maxValueBytes = maxValueBytes
        self.maxReasonBytes = maxReasonBytes
        self.maxWriteAttempts = maxWriteAttempts
        self.requestIDRetentionMs = requestIDRetentionMs
    }
}
