import CairnCore
import Foundation

/// How long a client waits for cairnd to accept a connection and greet it with `hello`.
///
/// The default, 5 s, suits an interactive `cairn` against a healthy server. Tools that start
/// many connections on a loaded machine (a test harness, a benchmark opening 1,000 idle
/// connections) raise it with `--connect-timeout` or `CAIRN_CONNECT_TIMEOUT`, in seconds.
public enum ConnectTimeout {
    public static let `default`: Duration = .seconds(5)
    /// The environment variable the command-line tools read.
    public static let variable = "CAIRN_CONNECT_TIMEOUT"
    /// The longest wait accepted: an hour.
    public static let maximumSeconds: Double = 3600

    /// `seconds` (from a flag) when given, else `CAIRN_CONNECT_TIMEOUT` when set (an empty
    /// variable counts as unset), else the default. A value that is not a number of seconds
    /// above 0 and at most an hour is an error naming where it came from.
    public static func resolve(
        seconds: Double?, flag: String = "--connect-timeout",
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(CairnError) -> Duration {
        if let seconds { return try duration(seconds, from: flag) }
        guard let text = environment[variable], !text.isEmpty else { return Self.default }
        guard let seconds = Double(text) else {
            throw CairnError(.invalidParams, "\(variable) must be a number of seconds (got \(text.debugDescription))")
        }
        return try duration(seconds, from: variable)
    }

    private static func duration(_ seconds: Double, from source: String) throws(CairnError) -> Duration {
        guard seconds.isFinite, seconds > 0, seconds <= maximumSeconds else {
            throw CairnError(.invalidParams, "\(source) must be above 0 and at most \(Int(maximumSeconds)) seconds (got \(seconds))")
        }
        return .milliseconds(Int64((seconds * 1000).rounded(.up)))
    }
}
