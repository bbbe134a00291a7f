// swift-tools-version: 6.2
// 6.2 is the real minimum: the code uses `Task.immediate` and the upcoming feature
// `NonisolatedNonsendingByDefault`, both new in Swift 6.2. An older toolchain stops here with
// "package requires minimum Swift tools version 6.2" instead of failing deep in the build.
import PackageDescription

// Async functions that are not isolated run on their caller's executor (instead of hopping to
// the global one): a connection's requests then stay on its event loop but for the Redis hop.
let nonisolatedNonsending: [SwiftSetting] = [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]

let package = Package(
    name: "Cairn",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Cairn", targets: ["Cairn"]),
        .library(name: "CairnCore", targets: ["CairnCore"]),
        .library(name: "CairnProtocol", targets: ["CairnProtocol"]),
        .library(name: "CairnServer", targets: ["CairnServer"]),
        .library(name: "CairnClient", targets: ["CairnClient"]),
        .library(name: "CairnMCP", targets: ["CairnMCP"]),
        .executable(name: "cairnd", targets: ["cairnd"]),
        .executable(name: "cairn", targets: ["cairn"]),
        .executable(name: "cairn-bench", targets: ["cairn-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        // TLS for the agent → cairnd hop (cairnd's listeners and every Swift client) and cairnd → Redis.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk.git", from: "0.12.1"),
        // cairnd's settings: flags, environment, secret files and defaults through one reader.
        // No traits: the JSON/YAML file providers and the command-line provider are not used.
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: []),
    ],
    targets: [
        // Debian's libhiredis-dev, seen through a module map. No pkgConfig: the module map's
        // `link "hiredis"` is enough and avoids a prohibited-flag warning.
        .systemLibrary(
            name: "CHiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        // Plain values shared by the store, the server and the clients: JSON, names, times, errors.
        .target(
            name: "CairnCore",
            dependencies: [.product(name: "OrderedCollections", package: "swift-collections")]
        ),
        // The only module that touches hiredis.
        .target(
            name: "CairnRedis",
            dependencies: [
                "CHiredis", "CairnCore",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                // TLS to Redis (`rediss://`).
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: nonisolatedNonsending
        ),
        // A private redis-server as a child process (cairnd's embedded Redis, the tests' Redis)
        // and the lock on its data folder: a tool that starts Redis, not a Redis client.
        .target(
            name: "CairnRedisServer",
            dependencies: [
                "CairnRedis",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: nonisolatedNonsending
        ),
        // The store: versioned items under typed namespaces, history, audit log.
        .target(
            name: "Cairn",
            dependencies: [
                "CairnCore", "CairnRedis", .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: nonisolatedNonsending
        ),
        // The wire: JSON-RPC framing and the JSON shape of items, shared by server and clients.
        .target(
            name: "CairnProtocol",
            dependencies: ["CairnCore", .product(name: "OrderedCollections", package: "swift-collections")]
        ),
        // cairnd as a library, so tests can start it in-process on port 0.
        .target(
            name: "CairnServer",
            dependencies: [
                "Cairn", "CairnProtocol", "CairnRedis",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: nonisolatedNonsending
        ),
        // A Swift client for the protocol; no hiredis, no store.
        .target(
            name: "CairnClient",
            dependencies: [
                "CairnCore", "CairnProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ]
        ),
        // Cairn as Model Context Protocol tools and resources for agents (stdio and Streamable HTTP).
        .target(
            name: "CairnMCP",
            dependencies: [
                "CairnClient", "CairnCore", "CairnProtocol",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // cairnd's settings as a library, so that their precedence and checks are unit-tested.
        .target(
            name: "CairnConfig",
            dependencies: [
                "CairnCore", "CairnServer", "Cairn", "CairnRedis",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "cairnd",
            dependencies: [
                "CairnConfig", "CairnServer", "Cairn", "CairnRedis", "CairnRedisServer", "CairnProtocol", "CairnMCP",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "cairn",
            dependencies: [
                "CairnClient", "CairnCore", "CairnProtocol", "CairnMCP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                // `cairn health` asks cairnd's metrics listener over HTTP.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MCP", package: "swift-sdk"),
            ]
        ),
        // The load generator: workloads through cairnd, or the same Redis commands directly.
        .executableTarget(
            name: "cairn-bench",
            dependencies: [
                "CairnClient", "CairnCore", "CairnProtocol", "CairnRedis", "Cairn",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The Swift examples of README.md and docs/*.md, so that every build compiles them
        // (`DocExampleTests` checks they are the docs' text). Not a product; never run.
        .executableTarget(
            name: "DocExamples",
            dependencies: ["Cairn", "CairnRedis", "CairnCore"],
            path: "Examples/DocExamples"
        ),
        // Shared by the test targets: the real Redis they use, and an in-process cairnd.
        .target(
            name: "CairnTestSupport",
            dependencies: [
                "Cairn", "CairnRedis", "CairnRedisServer", "CairnServer", "CairnClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/CairnTestSupport"
        ),
        .testTarget(name: "CairnCoreTests", dependencies: ["CairnCore", "CairnProtocol"]),
        .testTarget(
            name: "CairnConfigTests",
            dependencies: ["CairnConfig", "CairnCore", "CairnServer", "Cairn", .product(name: "Configuration", package: "swift-configuration")]),
        .testTarget(
            name: "CairnCLITests",
            dependencies: [
                "CairnTestSupport", "CairnClient", "CairnServer", "Cairn", "CairnProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "CairnBenchTests",
            dependencies: [
                "CairnTestSupport", "CairnClient", "CairnServer", "Cairn", .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]),
        .testTarget(
            name: "CairnServerTests",
            dependencies: [
                "CairnServer", "CairnClient", "Cairn", "CairnRedis", "CairnRedisServer", "CairnProtocol", "CairnTestSupport", "CairnCore",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "CairnMCPTests", dependencies: ["CairnMCP", "CairnCore", "CairnProtocol", "CairnClient", "CairnServer", "CairnTestSupport", .product(name: "MCP", package: "swift-sdk")]),
        .testTarget(
            name: "CairnTests",
            dependencies: [
                "Cairn", "CairnRedis", "CairnRedisServer", "CairnTestSupport", .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]),
    ]
)
