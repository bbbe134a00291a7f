import ArgumentParser

/// `cairnd`'s command line. ArgumentParser gives `--help`, `--version` and the usage errors
/// (an unknown flag, a missing value, a number that is not one: exit 64); it holds no defaults.
/// What it parsed becomes the first provider of `CairndSettings`' reader, so a flag wins over
/// the environment, the secret files and the defaults. Names and help come from `CairndSetting`.
public struct CairndOptions: ParsableArguments {
    @Option(name: .customLong(CairndSetting.listen.name), help: ArgumentHelp(CairndSetting.listen.help))
    public var listen: String?

    @Option(name: .customLong(CairndSetting.redisURL.name), help: ArgumentHelp(CairndSetting.redisURL.help))
    public var redisURL: String?

    @Option(name: .customLong(CairndSetting.redisURLFile.name), help: ArgumentHelp(CairndSetting.redisURLFile.help))
    public var redisURLFile: String?

    @Option(name: .customLong(CairndSetting.redisTLSCA.name), help: ArgumentHelp(CairndSetting.redisTLSCA.help))
    public var redisTLSCA: String?

    @Option(name: .customLong(CairndSetting.redisTLSCert.name), help: ArgumentHelp(CairndSetting.redisTLSCert.help))
    public var redisTLSCert: String?

    @Option(name: .customLong(CairndSetting.redisTLSKey.name), help: ArgumentHelp(CairndSetting.redisTLSKey.help))
    public var redisTLSKey: String?

    @Option(name: .customLong(CairndSetting.redisTLSServerName.name), help: ArgumentHelp(CairndSetting.redisTLSServerName.help))
    public var redisTLSServerName: String?

    @Option(name: .customLong(CairndSetting.dataDir.name), help: ArgumentHelp(CairndSetting.dataDir.help))
    public var dataDir: String?

    @Option(name: .customLong(CairndSetting.redisPoolSize.name), help: ArgumentHelp(CairndSetting.redisPoolSize.help))
    public var redisPoolSize: Int?

    @Option(name: .customLong(CairndSetting.auth.name), help: ArgumentHelp(CairndSetting.auth.help))
    public var auth: String?

    @Option(name: .customLong(CairndSetting.adminTokenFile.name), help: ArgumentHelp(CairndSetting.adminTokenFile.help))
    public var adminTokenFile: String?

    @Option(name: .customLong(CairndSetting.metricsListen.name), help: ArgumentHelp(CairndSetting.metricsListen.help))
    public var metricsListen: String?

    @Option(name: .customLong(CairndSetting.maxLineBytes.name), help: ArgumentHelp(CairndSetting.maxLineBytes.help))
    public var maxLineBytes: Int?

    @Option(name: .customLong(CairndSetting.maxValueBytes.name), help: ArgumentHelp(CairndSetting.maxValueBytes.help))
    public var maxValueBytes: Int?

    @Option(name: .customLong(CairndSetting.maxConnections.name), help: ArgumentHelp(CairndSetting.maxConnections.help))
    public var maxConnections: Int?

    @Option(name: .customLong(CairndSetting.authTimeoutMs.name), help: ArgumentHelp(CairndSetting.authTimeoutMs.help))
    public var authTimeoutMs: Int?

    @Option(name: .customLong(CairndSetting.maxSubscriptions.name), help: ArgumentHelp(CairndSetting.maxSubscriptions.help))
    public var maxSubscriptions: Int?

    @Option(name: .customLong(CairndSetting.maxBufferedEvents.name), help: ArgumentHelp(CairndSetting.maxBufferedEvents.help))
    public var maxBufferedEvents: Int?

    @Option(name: .customLong(CairndSetting.maxEventBufferBytes.name), help: ArgumentHelp(CairndSetting.maxEventBufferBytes.help))
    public var maxEventBufferBytes: Int?

    @Option(name: .customLong(CairndSetting.maxPendingOutputBytes.name), help: ArgumentHelp(CairndSetting.maxPendingOutputBytes.help))
    public var maxPendingOutputBytes: Int?

    @Option(name: .customLong(CairndSetting.historyLimit.name), help: ArgumentHelp(CairndSetting.historyLimit.help))
    public var historyLimit: Int?

    @Option(name: .customLong(CairndSetting.streamLength.name), help: ArgumentHelp(CairndSetting.streamLength.help))
    public var streamLength: Int?

    @Option(name: .customLong(CairndSetting.requestIdRetentionMs.name), help: ArgumentHelp(CairndSetting.requestIdRetentionMs.help))
    public var requestIdRetentionMs: Int?

    @Option(name: .customLong(CairndSetting.keyPrefix.name), help: ArgumentHelp(CairndSetting.keyPrefix.help))
    public var keyPrefix: String?

    @Option(name: .customLong(CairndSetting.logLevel.name), help: ArgumentHelp(CairndSetting.logLevel.help))
    public var logLevel: String?

    @Option(name: .customLong(CairndSetting.tlsCert.name), help: ArgumentHelp(CairndSetting.tlsCert.help))
    public var tlsCert: String?

    @Option(name: .customLong(CairndSetting.tlsKey.name), help: ArgumentHelp(CairndSetting.tlsKey.help))
    public var tlsKey: String?

    @Option(name: .customLong(CairndSetting.tlsClientCA.name), help: ArgumentHelp(CairndSetting.tlsClientCA.help))
    public var tlsClientCA: String?

    @Option(name: .customLong(CairndSetting.mcpListen.name), help: ArgumentHelp(CairndSetting.mcpListen.help))
    public var mcpListen: String?

    public init() {}

    /// The settings given on the command line, as the text the provider serves (numbers were
    /// checked to be numbers by ArgumentParser; their bounds are checked with the others').
    public var given: [CairndSetting: String] {
        let values: [(CairndSetting, (any CustomStringConvertible)?)] = [
            (.listen, listen), (.redisURL, redisURL), (.redisURLFile, redisURLFile), (.redisTLSCA, redisTLSCA),
            (.redisTLSCert, redisTLSCert), (.redisTLSKey, redisTLSKey), (.redisTLSServerName, redisTLSServerName), (.dataDir, dataDir),
            (.redisPoolSize, redisPoolSize), (.auth, auth), (.adminTokenFile, adminTokenFile), (.metricsListen, metricsListen),
            (.maxLineBytes, maxLineBytes), (.maxValueBytes, maxValueBytes), (.maxConnections, maxConnections),
            (.authTimeoutMs, authTimeoutMs), (.maxSubscriptions, maxSubscriptions), (.maxBufferedEvents, maxBufferedEvents),
            (.maxEventBufferBytes, maxEventBufferBytes), (.maxPendingOutputBytes, maxPendingOutputBytes),
            (.historyLimit, historyLimit), (.streamLength, streamLength), (.requestIdRetentionMs, requestIdRetentionMs),
            (.keyPrefix, keyPrefix), (.logLevel, logLevel), (.tlsCert, tlsCert), (.tlsKey, tlsKey), (.tlsClientCA, tlsClientCA),
            (.mcpListen, mcpListen),
        ]
        return Dictionary(uniqueKeysWithValues: values.compactMap { setting, value in value.map { (setting, $0.description) } })
    }
}
