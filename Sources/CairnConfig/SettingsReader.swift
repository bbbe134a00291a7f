import CairnCore
import CairnRedis
import CairnServer
import Configuration

/// Typed reads of `CairndSetting`s through the one reader, with cairnd's messages.
struct SettingsReader {
    /// The admin tokens read from `--admin-token-file`: a key of the secret-file layer only
    /// (`CAIRN_ADMIN_TOKEN` is another key, and adds to them rather than replacing them).
    static let adminTokensFromFile = ConfigKey(["cairn", "admin", "token", "file", "tokens"])

    let reader: ConfigReader
    let commandLine: [CairndSetting: String]

    func text(_ setting: CairndSetting) -> String? {
        reader.string(forKey: setting.key, isSecret: setting.isSecret)
    }

    /// A whole number within its bounds; the messages name the environment variable, as the
    /// README's table does (a flag's value is a number already: ArgumentParser checked it).
    func number(_ setting: CairndSetting) throws(CairndSettingsError) -> Int {
        guard case .number(let minimum) = setting.kind, let text = text(setting) else {
            preconditionFailure("\(setting) is not a number with a default")
        }
        guard let value = Int(text) else {
            let source = commandLine[setting] != nil ? "\(setting.flag) " : "\(setting.environmentVariable)="
            throw CairndSettingsError("\(source)\(text) is not a number")
        }
        guard value >= minimum else {
            throw CairndSettingsError("\(setting.environmentVariable) must be at least \(minimum) (got \(value))")
        }
        return value
    }

    func listenAddress(_ setting: CairndSetting, what: String) throws(CairndSettingsError) -> HostPort {
        do {
            return try HostPort.listenAddress(text(setting) ?? "", what: what)
        } catch {
            throw CairndSettingsError(error.message)
        }
    }

    func listenAddressOrOff(_ setting: CairndSetting, what: String) throws(CairndSettingsError) -> HostPort? {
        text(setting) == "off" ? nil : try listenAddress(setting, what: what)
    }

    /// TLS to Redis: options only with a `rediss://` URL (with none, or a `redis://` one, they
    /// would be ignored while whoever gave them expects TLS), and a client certificate with its key.
    func redisTLS(url: String?) throws(CairndSettingsError) -> RedisTLSOptions {
        let options = RedisTLSOptions(
            caFile: text(.redisTLSCA), certificateFile: text(.redisTLSCert), keyFile: text(.redisTLSKey),
            serverName: text(.redisTLSServerName))
        if options.isEmpty { return options }
        let given = [CairndSetting.redisTLSCA, .redisTLSCert, .redisTLSKey, .redisTLSServerName].filter { text($0) != nil }
            .map(\.flag).joined(separator: ", ")
        guard let url else {
            throw CairndSettingsError(
                "Redis TLS settings (\(given)) need a rediss:// Redis URL (--redis-url); the embedded redis-server is plain TCP on loopback")
        }
        guard url.hasPrefix("rediss://") else {
            throw CairndSettingsError("Redis TLS settings (\(given)) are for TLS, but the Redis URL is not rediss:// (plain TCP): use rediss://")
        }
        if (options.certificateFile == nil) != (options.keyFile == nil) {
            throw CairndSettingsError(
                "a client certificate for Redis needs both --redis-tls-cert and --redis-tls-key (CAIRN_REDIS_TLS_CERT, CAIRN_REDIS_TLS_KEY)")
        }
        if options.serverName?.isEmpty == true { throw CairndSettingsError("--redis-tls-server-name is empty") }
        return options
    }

    /// TLS needs a certificate and its key; a client CA (mutual TLS) needs both too.
    func tls() throws(CairndSettingsError) -> ServerTLSSettings? {
        let clientCA = text(.tlsClientCA)
        switch (text(.tlsCert), text(.tlsKey)) {
        case (let certificate?, let key?):
            return ServerTLSSettings(certificateFile: certificate, keyFile: key, clientCAFile: clientCA)
        case (nil, nil):
            if clientCA != nil { throw CairndSettingsError("--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS)") }
            return nil
        default:
            throw CairndSettingsError("TLS needs both --tls-cert and --tls-key (CAIRN_TLS_CERT, CAIRN_TLS_KEY)")
        }
    }
}
