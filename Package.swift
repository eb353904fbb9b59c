// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Reel",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "reel", targets: ["reel"]),
        .library(name: "ReelMedia", targets: ["ReelMedia"]),
        .library(name: "ReelHTTP", targets: ["ReelHTTP"]),
        .library(name: "ReelCapture", targets: ["ReelCapture"]),
        .library(name: "ReelStorage", targets: ["ReelStorage"]),
        .library(name: "ReelServer", targets: ["ReelServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.20.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.30.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/vapor/sql-kit", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit", from: "2.17.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms", from: "1.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat libavcodec libswscale libavutil",
            providers: [.apt(["libavcodec-dev", "libavformat-dev", "libswscale-dev", "libavutil-dev"])]
        ),
        .systemLibrary(
            name: "CTurboJPEG",
            pkgConfig: "libturbojpeg",
            providers: [.apt(["libturbojpeg0-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .systemLibrary(name: "CMalloc"),
        .plugin(name: "VersionStamp", capability: .buildTool()),
        .target(name: "ReelErrors"),
        .target(name: "ReelMedia", dependencies: ["CFFmpeg", "CTurboJPEG", "ReelErrors"]),
        .target(name: "ReelHTTP", dependencies: ["CCurl"]),
        .systemLibrary(
            name: "CV4L2",
            pkgConfig: "libv4l2",
            providers: [.apt(["libv4l-dev"])]
        ),
        .target(name: "ReelCapture", dependencies: ["CV4L2", "ReelHTTP", "ReelMedia"]),
        .target(name: "ReelStorage", dependencies: ["ReelHTTP", "ReelErrors", .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "ReelServer",
            dependencies: [
                "ReelMedia",
                "ReelStorage",
                "ReelErrors",
                "ReelHTTP",
                "CMalloc",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
            ],
            // The page is compiled in: a binary copied alone still serves it.
            resources: [.embedInCode("Page/index.html"), .embedInCode("Page/app.js"), .embedInCode("Page/style.css"),
                        .embedInCode("openapi.yaml")],
            plugins: ["VersionStamp"]
        ),
        .executableTarget(
            name: "reel",
            dependencies: [
                "ReelMedia",
                "ReelServer",
                "ReelCapture",
                "ReelErrors",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "ReelTestSupport", dependencies: ["ReelMedia"], path: "Tests/ReelTestSupport"),
        .testTarget(name: "ReelMediaTests", dependencies: ["ReelMedia", "ReelTestSupport"]),
        .testTarget(name: "ReelCLITests", dependencies: ["reel", "ReelTestSupport"]),
        .testTarget(
            name: "ReelServerTests",
            dependencies: [
                "ReelServer",
                "ReelTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(name: "ReelStorageTests", dependencies: ["ReelStorage", "ReelTestSupport"]),
        .testTarget(name: "ReelCaptureTests", dependencies: ["ReelCapture", "ReelMedia", "ReelTestSupport"]),
        .testTarget(
            name: "ReelHTTPTests",
            dependencies: [
                "ReelHTTP",
                "ReelTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
    ]
)
