// swift-tools-version:6.0
//
// libFuzzer executables over zodbfs's parsers. Kept apart from the root
// package because they only link when built with -sanitize=fuzzer (their
// main calls into libFuzzer):
//   swift build --package-path Fuzz -c release -Xswiftc -sanitize=fuzzer,address
// Scripts/fuzz builds and runs them. What each one does with an input is in
// Tests/FuzzTargets of the root package, which FuzzCorpusTests also runs.
import PackageDescription

let fuzzers = ["PickleFuzzer", "FileStorageFuzzer", "IndexFileFuzzer", "DatFileFuzzer", "PackFuzzer"]

let package = Package(
    name: "zodbfs-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "zodbfs", path: ".."),
    ],
    targets: [
        .target(name: "LibFuzzerDriver"),
        .target(name: "FuzzerMain", dependencies: ["LibFuzzerDriver"]),
    ] + fuzzers.map { name in
        .executableTarget(name: name, dependencies: ["FuzzerMain", .product(name: "FuzzTargets", package: "zodbfs")])
    }
)
