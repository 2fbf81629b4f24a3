// swift-tools-version:6.0
//
// zodbfs: a FUSE filesystem over a ZODB FileStorage.
// Targets follow the layers of DESIGN.md; every dependency points down:
//   zodbfs (CLI) → FUSE → FS → OFS → ZODB → {Pickle, Storage}
//   zodbfs (CLI) → ZEO → {Pickle, Storage}   (a storage reached over the network)
// Only CFuse3 and FUSE know that libfuse exists.
import PackageDescription

let package = Package(
    name: "zodbfs",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "zodbfs", targets: ["zodbfs"]),
        // For the libFuzzer package in Fuzz/, which builds apart from this one.
        .library(name: "FuzzTargets", targets: ["FuzzTargets"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        // The ZEO client's connection.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CFuse3",
            pkgConfig: "fuse3",
            providers: [.apt(["libfuse3-dev"])]
        ),
        // zlib, for repozo's gzip files (.fsz, .deltafsz).
        .systemLibrary(
            name: "CZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(name: "Pickle"),
        .target(
            name: "Storage",
            dependencies: [
                "CZlib",
                .product(name: "SystemPackage", package: "swift-system"),
                // MD5, the checksum repozo writes into its .dat files.
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(name: "ZODB", dependencies: ["Pickle", "Storage"]),
        // A ZEO 5 client: the same storage protocol as FileStorage, over a
        // connection to a ZEO server.
        .target(
            name: "ZEO",
            dependencies: [
                "Pickle", "Storage",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "OFS", dependencies: ["ZODB"]),
        .target(
            name: "FS",
            dependencies: [
                "OFS",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(
            name: "FUSE",
            dependencies: ["FS", "CFuse3", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "zodbfs",
            dependencies: [
                "FUSE", "FS", "ZEO",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "TestSupport",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            path: "Tests/TestSupport"
        ),
        // What each parser does with one arbitrary input: driven by the fuzzers
        // in Fuzz/ and, over the kept corpus, by FuzzCorpusTests.
        .target(
            name: "FuzzTargets",
            dependencies: ["Pickle", "Storage", "ZODB", "OFS"],
            path: "Tests/FuzzTargets"
        ),
        .testTarget(name: "PickleTests", dependencies: ["Pickle", "TestSupport"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "TestSupport"]),
        .testTarget(name: "ZODBTests", dependencies: ["ZODB", "TestSupport"]),
        .testTarget(name: "ZEOTests", dependencies: ["ZEO", "TestSupport"]),
        .testTarget(name: "OFSTests", dependencies: ["OFS", "TestSupport"]),
        .testTarget(
            name: "FSTests",
            dependencies: ["FS", "TestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "FuzzCorpusTests", dependencies: ["FuzzTargets"], exclude: ["Corpus"]),
        // Mounts for real and drives the mount with the tools users use.
        .testTarget(name: "MountTests", dependencies: ["TestSupport"]),
    ]
)
