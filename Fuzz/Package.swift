// swift-tools-version: 6.0
// libFuzzer targets for the code that reads untrusted bytes. Built apart from
// the main package, with `-sanitize=fuzzer,address` (see `make fuzz`): a plain
// `swift build` of Reel never builds them.
import PackageDescription

let package = Package(
    name: "ReelFuzz",
    dependencies: [.package(name: "Reel", path: "..")],
    targets: [
        .systemLibrary(name: "CLibFuzzer"),
        .executableTarget(name: "FuzzFrameDecoder", dependencies: ["CLibFuzzer", .product(name: "ReelMedia", package: "Reel")]),
        .executableTarget(name: "FuzzSpoolTail", dependencies: ["CLibFuzzer", .product(name: "ReelMedia", package: "Reel")]),
        .executableTarget(name: "FuzzMultipart", dependencies: ["CLibFuzzer", .product(name: "ReelHTTP", package: "Reel")]),
        .executableTarget(name: "FuzzCameraJPEG", dependencies: ["CLibFuzzer", .product(name: "ReelCapture", package: "Reel")]),
    ]
)
