import Foundation

/// Where the tests find what `Scripts/test` prepared: the Python-built
/// fixtures, the venv's Python and the built `zodbfs` binary. Nothing is
/// skipped silently: a test that needs a missing piece fails and says how
/// to get it.
public enum TestEnvironment {
    public static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// The package root, found from this file's location.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public struct Missing: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) {
            self.description = description
        }
    }

    /// `ZODBFS_FIXTURES`, else `.fixtures/` in the package.
    public static func fixturesDirectory() throws -> URL {
        let env = ProcessInfo.processInfo.environment["ZODBFS_FIXTURES"]
        let url = env.map { URL(fileURLWithPath: $0) } ?? packageRoot.appendingPathComponent(".fixtures")
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("zope/Data.fs").path) else {
            throw Missing(description: "no fixtures at \(url.path): run Scripts/test (it builds them with the pinned Python packages)")
        }
        return url
    }

    /// The Python-built Zope database and its manifest.
    public static func zopeFixture() throws -> ZopeFixture {
        try ZopeFixture(directory: fixturesDirectory().appendingPathComponent("zope"))
    }

    /// The venv's Python (`ZODBFS_PYTHON`, else `.venv/bin/python`).
    public static func python() throws -> String {
        let path = ProcessInfo.processInfo.environment["ZODBFS_PYTHON"]
            ?? packageRoot.appendingPathComponent(".venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Missing(description: "no Python venv at \(path): run Scripts/test")
        }
        return path
    }

    /// The `zodbfs` executable (`ZODBFS_BINARY`, else the debug build).
    public static func binary() throws -> String {
        let path = ProcessInfo.processInfo.environment["ZODBFS_BINARY"]
            ?? packageRoot.appendingPathComponent(".build/debug/zodbfs").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Missing(description: "no zodbfs binary at \(path): run swift build")
        }
        return path
    }

    /// A Python script shipped in `Scripts/`.
    public static func script(_ relativePath: String) -> String {
        packageRoot.appendingPathComponent("Scripts").appendingPathComponent(relativePath).path
    }
}
