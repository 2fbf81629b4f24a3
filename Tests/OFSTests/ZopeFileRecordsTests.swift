import Foundation
import OFS
import Pickle
import Storage
import TestSupport
import Testing
import ZODB

/// The records zodbfs builds for a File are the ones Zope writes: Zope's own `manage_addFile`,
/// `manage_addImage` and `manage_upload` (`Scripts/peers/zope_files.py`) make Files of sizes around
/// every boundary of `File._read_data` in a fresh FileStorage, and our layout, oids, `Pdata` records
/// and File states reproduce every record byte for byte.
@Suite struct ZopeFileRecordsTests {
    struct Link: Decodable {
        var oid: String
        var record: String
    }

    struct StoredFile: Decodable {
        var id: String
        var oid: String
        var size: UInt64
        var content_type: String
        var etag: String
        var record: String
        var links: [Link]
        var previous: String?
    }

    struct Output: Decodable {
        var files: [StoredFile]
        var replaced: StoredFile
        var etags: [[EtagCase]]
    }

    enum EtagCase: Decodable {
        case time(Double)
        case etag(String)
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) { self = .etag(text) } else { self = .time(try container.decode(Double.self)) }
        }
    }

    /// `body(size)` of the script: byte `i` is `(7 * i + size) % 251`.
    static func body(_ size: UInt64) -> [UInt8] {
        (0 ..< Int(size)).map { UInt8((7 * $0 + Int(size % 251)) % 251) }
    }

    static func bytes(_ hex: String) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(hex.utf8.count / 2)
        var iterator = hex.utf8.makeIterator()
        func nibble(_ c: UInt8) -> UInt8 { c <= 0x39 ? c - 0x30 : c - 0x57 }
        while let high = iterator.next(), let low = iterator.next() { result.append(nibble(high) << 4 | nibble(low)) }
        return result
    }

    static func oid(_ hex: String) -> OID { OID(UInt64(hex, radix: 16)!) }

    static func zopeOutput() throws -> (Output, ScratchDirectory) {
        let python = try TestEnvironment.python()
        let scratch = try ScratchDirectory("zodbfs-zope-files")
        let result = try runCommand(python, [TestEnvironment.script("peers/zope_files.py"), scratch.url.path])
        guard result.status == 0 else {
            scratch.cleanUp()
            throw TestEnvironment.Missing(description: "zope_files.py failed: \(result.stderr)")
        }
        return (try JSONDecoder().decode(Output.self, from: result.stdoutData), scratch)
    }

    /// The links' expected records, built from our layout and oids alone.
    static func expectedLinks(layout: PdataChainLayout, body: [UInt8], firstAllocated: OID) -> [(OID, [UInt8])] {
        let count = layout.linkLengths.count
        let allocated = (0 ..< count).map { OID(firstAllocated.rawValue + UInt64($0)) }
        let oids = layout.oidsInFileOrder(allocated: allocated)
        return zip(layout.linkOffsets, layout.linkLengths).enumerated().map { index, link in
            let next: PdataRecord.Next = count == 1 ? .absent : (index + 1 < count ? .link(oids[index + 1]) : .none)
            let framing = PdataRecord(payloadLength: link.1, next: next)
            return (oids[index], framing.record(payload: body[Int(link.0) ..< Int(link.0) + link.1]))
        }
    }

    @Test func newFilesAreRecordForRecordWhatZopeWrites() throws {
        let (output, scratch) = try Self.zopeOutput()
        defer { scratch.cleanUp() }
        let files = output.files.filter { !$0.id.hasSuffix(".png") }
        #expect(files.count == 11)
        for file in files {
            let body = file.id == "page.html" ? Array("<p>x</p>".utf8) : Self.body(file.size)
            let fileOID = Self.oid(file.oid)
            let layout = PdataChainLayout(size: file.size)

            // The chain: link lengths, oids (allocated after the File's, back to front) and records.
            let expected = Self.expectedLinks(layout: layout, body: body, firstAllocated: OID(fileOID.rawValue + 1))
            #expect(expected.map(\.0) == file.links.map { Self.oid($0.oid) }, "\(file.id)")
            for ((oid, record), link) in zip(expected, file.links) {
                #expect(record == Self.bytes(link.record), "\(file.id) link \(oid)")
            }

            // The File record itself.
            let contentType = ContentTypeGuess.contentType(name: file.id, body: body)
            #expect(contentType == file.content_type, "\(file.id)")
            let data: ZopeFileState.Data = expected.isEmpty ? .inline(body) : .chain(first: expected[0].0)
            let state = ZopeFileState.new(id: file.id, contentType: contentType, size: file.size, data: data, etag: file.etag)
            let record = try RecordEncoder.encode(objectClass: ZopeFileState.fileClass, state: state)
            #expect(record == Self.bytes(file.record), "\(file.id)")
        }
    }

    @Test func newImagesAreWhatZopeWrites() throws {
        let (output, scratch) = try Self.zopeOutput()
        defer { scratch.cleanUp() }
        for file in output.files where file.id.hasSuffix(".png") {
            let original = try ObjectRecord(oid: Self.oid(file.oid), tid: TID(1), data: Self.bytes(file.record))
            guard case .bytes(let body)? = original.state["data"] else {
                Issue.record("\(file.id) has no inline data")
                continue
            }
            // getImageInfo recognises the PNG (1×1) and not the text; both are image/png by name.
            let dimensions = file.id == "pixel.png" ? ZopeFileState.ImageDimensions(width: 1, height: 1) : nil
            #expect(ContentTypeGuess.contentType(name: file.id, body: body) == file.content_type)
            let state = ZopeFileState.newImage(id: file.id, contentType: file.content_type, size: file.size,
                                               data: .inline(body), dimensions: dimensions, etag: file.etag)
            #expect(try RecordEncoder.encode(objectClass: ZopeFileState.imageClass, state: state) == Self.bytes(file.record), "\(file.id)")
        }
    }

    @Test func aReplacedBodyIsWhatManageUploadWrites() throws {
        let (output, scratch) = try Self.zopeOutput()
        defer { scratch.cleanUp() }
        let replaced = output.replaced
        let body = Self.body(replaced.size)
        let layout = PdataChainLayout(size: replaced.size)
        // The new links got the oids after everything the earlier transactions allocated.
        let firstAllocated = Self.oid(replaced.links.map(\.oid).min()!)
        let links = Self.expectedLinks(layout: layout, body: body, firstAllocated: firstAllocated)
        #expect(links.map(\.0) == replaced.links.map { Self.oid($0.oid) })
        for ((_, record), link) in zip(links, replaced.links) { #expect(record == Self.bytes(link.record)) }

        var record = try ObjectRecord(oid: Self.oid(replaced.oid), tid: TID(1), data: Self.bytes(replaced.previous!))
        var update = ZopeFileState.Update(size: replaced.size, data: .chain(first: links[0].0), etag: replaced.etag)
        // manage_upload guesses again, with the default application/octet-stream.
        update.contentType = ContentTypeGuess.contentType(name: replaced.id, body: body)
        record.state = try ZopeFileState.updated(record.state, with: update)
        #expect(try RecordEncoder.encode(record) == Self.bytes(replaced.record))
    }

    @Test func updatingKeepsEveryOtherKeyInPlace() throws {
        let state = PickleValue.dict([
            PickleDictEntry(key: .string("__name__"), value: .string("a.txt")),
            PickleDictEntry(key: .string("title"), value: .string("A")),
            PickleDictEntry(key: .string("custom"), value: .list([.int(1)])),
            PickleDictEntry(key: .string("content_type"), value: .string("text/plain")),
            PickleDictEntry(key: .string("size"), value: .int(3)),
            PickleDictEntry(key: .string("data"), value: .bytes([1, 2, 3])),
            PickleDictEntry(key: .string("_EtagSupport__etag"), value: .string("ts1")),
            PickleDictEntry(key: .string("_owner"), value: .tuple([.list([.string("acl_users")]), .string("admin")])),
        ])
        var update = ZopeFileState.Update(size: 70000, data: .chain(first: OID(0x42)), etag: "ts2")
        update.title = "B"
        let updated = try ZopeFileState.updated(state, with: update)
        #expect(updated.dictEntries?.map { $0.key.stringValue ?? "" } == state.dictEntries?.map { $0.key.stringValue ?? "" })
        #expect(updated["title"] == .string("B"))
        #expect(updated["content_type"] == .string("text/plain"))
        #expect(updated["custom"] == .list([.int(1)]))
        #expect(updated["_owner"] == state["_owner"])
        #expect(updated["size"] == .int(70000))
        #expect(updated["data"] == RecordEncoder.reference(to: OID(0x42), objectClass: PdataRecord.pdataClass))
        #expect(updated["_EtagSupport__etag"] == .string("ts2"))

        // A File of old without size gets it where update_data would add it, after the others.
        let old = PickleValue.dict([PickleDictEntry(key: .string("data"), value: .bytes([]))])
        let filled = try ZopeFileState.updated(old, with: ZopeFileState.Update(size: 1, data: .inline([9]), etag: "ts3"))
        #expect(filled.dictEntries?.map { $0.key.stringValue ?? "" } == ["data", "size", "_EtagSupport__etag"])
        #expect(throws: ZopeFileState.NotAFileState.self) { try ZopeFileState.updated(.none, with: update) }
    }

    @Test func etagsAreZopes() throws {
        let (output, scratch) = try Self.zopeOutput()
        defer { scratch.cleanUp() }
        for pair in output.etags {
            guard case .time(let time) = pair[0], case .etag(let etag) = pair[1] else {
                Issue.record("unexpected etag case")
                continue
            }
            #expect(ZopeFileState.etag(time: time) == etag)
        }
        let now = ZopeFileState.etag()
        #expect(now.hasPrefix("ts") && now.contains("."))
        #expect(abs(ZopeFileState.currentTime() - Date().timeIntervalSince1970) < 5)
    }
}
