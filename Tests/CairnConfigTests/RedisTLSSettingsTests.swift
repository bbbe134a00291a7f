import CairnConfig
import CairnRedis
import Testing

/// `--redis-tls-*`: read like every other setting, and refused where they would be ignored.
@Suite struct RedisTLSSettingsTests {
    @Test func flagsAndTheEnvironmentGiveTheRedisTLSOptions() throws {
        let settings = try CairndSettingsTests.settings(
            ["--redis-url", "rediss://db:6380", "--redis-tls-ca", "/ca.pem", "--redis-tls-server-name", "redis.internal"],
            environment: ["CAIRN_REDIS_TLS_CERT": "/client.pem", "CAIRN_REDIS_TLS_KEY": "/client-key.pem", "CAIRN_REDIS_TLS_CA": "/env-ca.pem"])
        #expect(
            settings.redisTLS
                == RedisTLSOptions(caFile: "/ca.pem", certificateFile: "/client.pem", keyFile: "/client-key.pem", serverName: "redis.internal"))
        #expect(settings.summary.contains("redis=rediss://db:6380"), "\(settings.summary)")
        #expect(settings.summary.contains("redis_tls=CA /ca.pem, cert /client.pem, server name redis.internal"), "\(settings.summary)")

        // rediss:// alone: the system's CAs and the URL's host.
        let bare = try CairndSettingsTests.settings(["--redis-url", "rediss://db"])
        #expect(bare.redisTLS.isEmpty)
        #expect(bare.summary.contains("redis_tls=CA system"), "\(bare.summary)")
        #expect(try CairndSettingsTests.settings().summary.contains("redis_tls=off"))
        #expect(CairndSetting.redisTLSCA.environmentVariable == "CAIRN_REDIS_TLS_CA")
        #expect(CairndSetting.redisTLSKey.flag == "--redis-tls-key")
    }

    @Test func redisTLSSettingsThatWouldBeIgnoredOrAreHalfAreRefused() throws {
        #expect(
            try CairndSettingsTests.refusal(["--redis-tls-ca", "/ca.pem"])
                == "Redis TLS settings (--redis-tls-ca) need a rediss:// Redis URL (--redis-url); the embedded redis-server is plain TCP on loopback")
        #expect(
            try CairndSettingsTests.refusal(["--redis-url", "redis://db"], environment: ["CAIRN_REDIS_TLS_CERT": "/c.pem", "CAIRN_REDIS_TLS_KEY": "/k.pem"])
                == "Redis TLS settings (--redis-tls-cert, --redis-tls-key) are for TLS, but the Redis URL is not rediss:// (plain TCP): use rediss://")
        #expect(
            try CairndSettingsTests.refusal(["--redis-url", "rediss://db", "--redis-tls-cert", "/c.pem"])
                == "a client certificate for Redis needs both --redis-tls-cert and --redis-tls-key (CAIRN_REDIS_TLS_CERT, CAIRN_REDIS_TLS_KEY)")
        // The URL from its file counts as given.
        #expect(
            try CairndSettingsTests.refusal(
                ["--redis-url-file", "/r", "--redis-tls-ca", "/ca.pem"], files: ["/r": "rediss://:pw@db"]) == nil)
    }
}
