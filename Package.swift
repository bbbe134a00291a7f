// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Cairn",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Cairn", targets: ["Cairn"]),
        .library(name: "CairnCore", targets: ["CairnCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
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
                "CHiredis",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // The store: versioned items under typed namespaces, history, audit log.
        .target(
            name: "Cairn",
            dependencies: ["CairnCore", "CairnRedis"]
        ),
        .testTarget(name: "CairnCoreTests", dependencies: ["CairnCore"]),
        .testTarget(name: "CairnTests", dependencies: ["Cairn", "CairnRedis"]),
    ]
)
