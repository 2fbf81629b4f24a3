import Foundation

/// What the real ZODB and Zope packages see in a Data.fs, from
/// `Scripts/peers/verify_store.py`: the tree as Zope objects, and the
/// problems ZODB's own checkers (fstest, fsrefs, the index loader, the
/// BTree checker) report.
public struct StoreVerification: Sendable {
    public struct Entry: Codable, Sendable, Equatable {
        public var path: String
        public var kind: String
        public var `class`: String
        public var meta_type: String?
        public var size: Int?
        public var sha256: String?
        public var content_type: String?
        public var title: String?
        public var mode: Int?
        public var posix_mtime: Double?
        public var pdata: [Int]?
        public var id: String?
    }

    private struct Report: Codable {
        var entries: [Entry]
        var problems: [String]
    }

    public var entries: [Entry]
    public var problems: [String]

    public subscript(path: String) -> Entry? { entries.first { $0.path == path } }

    /// Runs the Python checker on `dataFS` (which must not be open read-write by us).
    public init(dataFS: String, checkIndex: Bool = true) throws {
        var arguments = [TestEnvironment.script("peers/verify_store.py"), dataFS]
        if !checkIndex { arguments.append("--no-index") }
        let result = try runCommand(try TestEnvironment.python(), arguments, timeout: 600)
        guard let report = try? JSONDecoder().decode(Report.self, from: result.stdoutData) else {
            throw TestEnvironment.Missing(description: "verify_store.py failed (\(result.status)): \(result.stderr.suffix(2000))")
        }
        entries = report.entries
        problems = report.problems
    }
}
