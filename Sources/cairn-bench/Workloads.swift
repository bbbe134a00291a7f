import CairnCore

/// The workloads, by their command-line names.
enum Workload: String, CaseIterable, Sendable {
    case get
    case put
    case putCAS = "put-cas"
    case casContention = "cas-contention"
    case blockInsertContention = "block-insert-contention"
    case search
    case eventLatency = "event-latency"
    case idleConnections = "idle-connections"

    /// One line on what one operation is.
    var summary: String {
        switch self {
        case .get: "read one item (of --keys items, 1,000 by default, written first)"
        case .put: "write one item, no if_version (cycling through --keys keys)"
        case .putCAS: "read an item, then write it with if_version = the version read (each worker its own key)"
        case .casContention: "every worker increments one counter: read, write with if_version, retry on conflict"
        case .blockInsertContention: "every worker inserts lines at the end of one block; all must land"
        case .search: "filter + text query over a scope of --search-items items (10,000 by default), limit 10"
        case .eventLatency: "write, and time until the write's event reaches a subscriber"
        case .idleConnections: "open --idle-connections connections, leave them idle, read the server's memory"
        }
    }
}

/// Everything a workload needs to know besides the load.
struct Settings: Sendable {
    var connections: Int
    var depth: Int
    /// Distinct keys `get` and `put` cycle through.
    var keys: Int
    var searchItems: Int
    var idleConnections: Int
    /// A tenant of this run's own: every workload writes under it (search and event-latency
    /// under tenants derived from it, so that their scopes hold only their own items).
    var tenant: String
    /// Unique to this invocation: names the block, the search tenant and the event tenant, so
    /// that a reused --tenant never finds a previous run's data in their scopes.
    var runID: String
    /// The process whose memory idle-connections reports; found by its listening port if nil.
    var serverPID: Int32?
    /// Test hook: contention workloads claim every 10th update without making it, so the check
    /// must fail.
    var injectLostUpdates: Bool
    /// Test hook: every 10th get of the line driver reads a key never written, and every 10th
    /// put-cas write sends a wrong if_version, so the answers' checks must fail.
    var injectWrongRequests = false

    var workers: Int { connections * depth }

    /// The most lines block-insert-contention inserts: they stay well under the 256 KiB value
    /// limit however long the run.
    static let maxBlockLines = 15_000

    var blockLabel: String { "shared-notes-\(runID)" }
    var searchTenant: String { "\(tenant)-search-\(runID)" }
    var eventTenant: String { "\(tenant)-events-\(runID)" }
}

/// Where the workloads run: through cairnd, or straight at Redis.
protocol Target: Sendable {
    var mode: String { get }
    /// The URL measured, fit to print.
    var display: String { get }
    func prepare(_ workload: Workload, _ settings: Settings) async throws -> Prepared
    /// The server process on this machine, when it can be found (for its CPU use).
    func serverPID(_ settings: Settings) async -> Int32?
    func close() async
}
