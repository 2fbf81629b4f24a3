import Foundation

/// The Zope database `Scripts/fixtures/build_zope_fixture.py` made through
/// Zope's own OFS API, and the manifest it wrote of every object.
public struct ZopeFixture: Sendable {
    public struct Entry: Decodable, Sendable {
        public var path: String
        public var kind: String
        public var oid: String
        public var size: Int?
        public var sha256: String?
        public var content_type: String?
        public var title: String?
        public var meta_type: String?
        public var mtime: Double
        public var tid: String

        public var isFolder: Bool { kind == "folder" }
        public var isFile: Bool { kind == "file" || kind == "image" }
        public var oidValue: UInt64 { UInt64(oid, radix: 16) ?? 0 }
    }

    public struct Manifest: Decodable, Sendable {
        public var root_oid: String
        public var entries: [Entry]
        public var transactions: Int?
        public var last_tid: String?
    }

    public let directory: URL
    public let manifest: Manifest

    public var dataFS: String { directory.appendingPathComponent("Data.fs").path }
    public var index: String { directory.appendingPathComponent("Data.fs.index").path }

    public init(directory: URL) throws {
        self.directory = directory
        let data = try Data(contentsOf: directory.appendingPathComponent("manifest.json"))
        manifest = try JSONDecoder().decode(Manifest.self, from: data)
    }

    public var files: [Entry] { manifest.entries.filter(\.isFile) }
    public var folders: [Entry] { manifest.entries.filter(\.isFolder) }

    /// The raw manifest JSON, for the parts tests read ad hoc (history).
    public func manifestObject() throws -> [String: Any] {
        let data = try Data(contentsOf: directory.appendingPathComponent("manifest.json"))
        return (try JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }
}
