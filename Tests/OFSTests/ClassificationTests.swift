import Foundation
import OFS
import Storage
import TestSupport
import Testing
import ZODB

/// Each object of the Python-built site maps to what DESIGN.md says:
/// folders to directories, File/Image to files, anything else to an
/// unmapped (rendered) object.
@Suite struct ClassificationTests {
    @Test func manifestKindsMatch() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let storage = try FileStorage(path: fixture.dataFS, readOnly: true)
        defer { storage.close() }
        let loader = ObjectLoader(storage: storage)
        for entry in fixture.manifest.entries {
            let object = ZopeObject(record: try loader.load(OID(entry.oidValue)))
            switch (entry.kind, object) {
            case ("folder", .directory), ("file", .file), ("image", .file), ("other", .unmapped):
                break
            default:
                Issue.record("\(entry.path): manifest says \(entry.kind), got \(object)")
            }
            if case .file(let file) = object {
                #expect(file.size == UInt64(entry.size ?? -1), "\(entry.path)")
                #expect(file.contentType == entry.content_type, "\(entry.path)")
            }
            if let title = entry.title, !title.isEmpty {
                #expect(object.title == title, "\(entry.path)")
            }
        }
    }

    @Test func pdataChainsLocatePayloadsWithoutCopyingThem() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let storage = try FileStorage(path: fixture.dataFS, readOnly: true)
        defer { storage.close() }
        let loader = ObjectLoader(storage: storage)
        var chains = 0
        for entry in fixture.files {
            guard case .file(let file) = ZopeObject(record: try loader.load(OID(entry.oidValue))),
                  case .chain(var next) = file.body else { continue }
            var digest = StreamingSHA256()
            var total = 0
            var links = 0
            while true {
                let link = try PdataLink.read(next, storage: storage)
                switch link.payload {
                case .stored(let offset, let length):
                    digest.update(try storage.read(at: offset, count: length))
                case .inline(let bytes):
                    digest.update(bytes)
                case .inRecord:
                    Issue.record("a FileStorage link addressed inside its record")
                }
                total += link.length
                links += 1
                guard let following = link.next else { break }
                next = following
            }
            #expect(total == entry.size, "\(entry.path)")
            #expect(digest.hex() == entry.sha256, "\(entry.path)")
            chains += links > 1 ? 1 : 0
        }
        #expect(chains >= 2, "the fixture has multi-link chains")
    }

    @Test func unmappedObjectsRenderTheirState() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let storage = try FileStorage(path: fixture.dataFS, readOnly: true)
        defer { storage.close() }
        let loader = ObjectLoader(storage: storage)
        let others = fixture.manifest.entries.filter { $0.kind == "other" }
        #expect(!others.isEmpty)
        for entry in others {
            let record = try loader.load(OID(entry.oidValue))
            let text = StateRendering.render(record)
            #expect(text.hasPrefix("class: \(record.objectClass)\n"))
        }
    }
}
