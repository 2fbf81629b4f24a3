import Foundation
import Storage
import Testing

/// Tests over the Zope database the Python fixture builder makes
/// (`$ZODBFS_FIXTURES/zope/Data.fs` with the `.index` Zope saved on close).
/// Skipped when the variable is unset, unless `CI=true`.
@Suite(.enabled(if: ExternalFixtures.enabled)) struct ZopeFixtureTests {
    /// A copy of the fixture's Data.fs (and, if asked, its .index) in a fresh directory.
    func copy(_ fixture: String, withIndex: Bool) throws -> (path: String, directory: TemporaryDirectory) {
        let directory = try TemporaryDirectory()
        let path = try directory.copy(fixture + "/Data.fs", as: "Data.fs")
        if withIndex { try directory.copy(fixture + "/Data.fs.index", as: "Data.fs.index") }
        return (path, directory)
    }

    /// Everything observable about a storage's current state.
    func expectSameState(_ a: FileStorage, _ b: FileStorage, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.size == b.size, sourceLocation: sourceLocation)
        #expect(a.lastTransaction == b.lastTransaction, sourceLocation: sourceLocation)
        #expect(a.objectCount == b.objectCount, sourceLocation: sourceLocation)
        #expect(a.indexSnapshot() == b.indexSnapshot(), sourceLocation: sourceLocation)
    }

    @Test func theIndexFileAndAFullScanAgree() throws {
        guard let fixture = ExternalFixtures.zope() else { return }
        let (indexed, d1) = try copy(fixture, withIndex: true)
        let (scanned, d2) = try copy(fixture, withIndex: false)
        let a = try FileStorage(path: indexed)
        let b = try FileStorage(path: scanned)
        defer { a.close(); b.close(); _ = (d1, d2) }
        #expect(a.usedIndexFile)
        #expect(!b.usedIndexFile)
        #expect(a.objectCount > 10)
        #expect(a.warnings.isEmpty && b.warnings.isEmpty)
        expectSameState(a, b)

        var loaded = 0
        for (oid, _) in b.indexSnapshot() {
            switch (Result { () throws(StorageError) in try a.load(oid) }, Result { () throws(StorageError) in try b.load(oid) }) {
            case (.success(let x), .success(let y)):
                #expect(x.data == y.data && x.tid == y.tid)
                #expect(x.data.first == 0x80 && x.data.last == UInt8(ascii: "."))
                loaded += 1
            case (.failure(let x), .failure(let y)):
                #expect(x == y)
                #expect(x == .objectDeleted(oid))
            default:
                Issue.record("\(oid) loads differently")
            }
        }
        #expect(loaded > 10)

        // Every transaction is there, in order, and the last one is the last transaction.
        let transactions = try b.transactions()
        #expect(transactions.first?.position == 4)
        #expect(transactions.last?.tid == b.lastTransaction)
        #expect(zip(transactions, transactions.dropFirst()).allSatisfy { $0.tid < $1.tid })
    }

    @Test func indexFileRoundTripsByteForByte() throws {
        guard let fixture = ExternalFixtures.zope() else { return }
        let python = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture + "/Data.fs.index")))
        let (position, index) = try IndexFile.load(path: fixture + "/Data.fs.index")
        #expect(try IndexFile.encoded(position: position, index: index) == python)

        // The index a full scan builds, saved, is Python's file too.
        let (path, directory) = try copy(fixture, withIndex: false)
        let storage = try FileStorage(path: path)
        defer { storage.close() }
        #expect(storage.size == position)
        try IndexFile.save(position: storage.size, index: storage.indexSnapshot(), path: directory.path + "/ours.index")
        #expect(try directory.read("ours.index") == python)
    }

    @Test func anOlderIndexIsUsedAndTheRestScanned() throws {
        guard let fixture = ExternalFixtures.zope() else { return }
        let (path, directory) = try copy(fixture, withIndex: false)
        let full = try FileStorage(path: path)
        defer { full.close() }
        let transactions = try full.transactions()
        #expect(transactions.count >= 3)
        let bytes = try directory.read("Data.fs")

        for boundary in [transactions[transactions.count / 2].position, transactions.last!.position] where boundary >= 100 {
            // The index of the file as it was at that boundary.
            let earlier = try TemporaryDirectory()
            let earlierStorage = try FileStorage(path: try earlier.write("Data.fs", Array(bytes[..<Int(boundary)])))
            let oldIndex = earlierStorage.indexSnapshot()
            earlierStorage.close()

            try IndexFile.save(position: boundary, index: oldIndex, path: path + ".index")
            let resumed = try FileStorage(path: path)
            #expect(resumed.usedIndexFile)
            expectSameState(resumed, full)
            resumed.close()

            // Not a transaction boundary: ignored, and a full scan gives the same.
            try IndexFile.save(position: boundary + 1, index: oldIndex, path: path + ".index")
            let rescanned = try FileStorage(path: path)
            #expect(!rescanned.usedIndexFile)
            expectSameState(rescanned, full)
            rescanned.close()
        }
    }

    @Test func aTransactionAppendedAfterTheIndexIsPickedUp() throws {
        guard let fixture = ExternalFixtures.zope() else { return }
        let (path, directory) = try copy(fixture, withIndex: true)
        let before = try FileStorage(path: path)
        let oldSize = before.size
        let rootRecord = try before.currentRecord(.root)
        let rootData = try before.load(.root).data
        let tid = before.lastTransaction.laterThan(before.lastTransaction)
        let snapshot = before.indexSnapshot()
        before.close()

        // What ZODB would append for a commit that re-stores the root.
        let description = Array("append".utf8)
        let recordPosition = oldSize + 23 + UInt64(description.count)
        var transaction = TransactionHeader(
            tid: tid, length: 23 + UInt64(description.count) + 42 + UInt64(rootData.count),
            status: TransactionStatus.committed, userLength: 0, descriptionLength: UInt16(description.count), extensionLength: 0
        ).serialized() + description
        transaction += DataHeader(
            oid: .root, tid: tid, previous: rootRecord.position, transactionPosition: oldSize, pickleLength: UInt64(rootData.count)
        ).serialized() + rootData
        transaction += (UInt64(transaction.count)).bigEndianBytes
        try directory.append("Data.fs", transaction)

        let after = try FileStorage(path: path)
        defer { after.close() }
        #expect(after.usedIndexFile)
        #expect(after.size == oldSize + UInt64(transaction.count))
        #expect(after.lastTransaction == tid)
        #expect(after.position(of: .root) == recordPosition)
        let root = try after.load(.root)
        #expect(root.data == rootData && root.tid == tid)
        #expect(after.objectCount == snapshot.count)
        #expect(after.warnings.isEmpty)

        let scanned = try FileStorage(path: try directory.copy(path, as: "Copy.fs"))
        defer { scanned.close() }
        #expect(!scanned.usedIndexFile)
        expectSameState(after, scanned)
    }

    @Test func cutsInsideTheLastTransactionKeepEverythingBefore() throws {
        guard let fixture = ExternalFixtures.zope() else { return }
        let (path, directory) = try copy(fixture, withIndex: false)
        let full = try FileStorage(path: path)
        let transactions = try full.transactions()
        let last = transactions.last!
        let size = full.size
        full.close()
        let bytes = try directory.read("Data.fs")
        let previous = Array(bytes[..<Int(last.position)])
        let reference = try FileStorage(path: try directory.write("Reference.fs", previous))
        defer { reference.close() }

        for cut in Set([last.position + 1, last.position + 22, last.position + 23, last.position + 70, (last.position + size) / 2, size - 8, size - 1]) {
            let cutDirectory = try TemporaryDirectory()
            let cutPath = try cutDirectory.write("Data.fs", Array(bytes[..<Int(cut)]))
            // With the fixture's index too: its position is past the end now, so it is ignored.
            try cutDirectory.copy(fixture + "/Data.fs.index", as: "Data.fs.index")
            let storage = try FileStorage(path: cutPath)
            #expect(!storage.usedIndexFile, "cut at \(cut)")
            #expect(storage.size == last.position, "cut at \(cut)")
            #expect(storage.lastTransaction == transactions[transactions.count - 2].tid)
            expectSameState(storage, reference)
            #expect(try cutDirectory.read("Data.fs").count == Int(cut))
            storage.close()
        }
    }

    @Test func garbageInTheMiddleNamesItsOffset() throws {
        guard let fixture = ExternalFixtures.zope() else { return }
        let (path, directory) = try copy(fixture, withIndex: false)
        let full = try FileStorage(path: path)
        let transactions = try full.transactions()
        full.close()
        let middle = transactions[transactions.count / 2]
        let bytes = try directory.read("Data.fs")

        // Over the transaction's length field.
        var damaged = bytes
        for i in 8..<16 { damaged[Int(middle.position) + i] = 0xa5 }
        let a = try TemporaryDirectory()
        let first = storageError { try FileStorage(path: try! a.write("Data.fs", damaged)) }
        #expect(first?.corruptionOffset == middle.position)
        #expect(first?.errno == 5)

        // Over its redundant length.
        let next = transactions[transactions.count / 2 + 1].position
        damaged = bytes
        for i in (Int(next) - 8)..<Int(next) { damaged[i] = 0x5a }
        let b = try TemporaryDirectory()
        #expect(storageError { try FileStorage(path: try! b.write("Data.fs", damaged)) }?.corruptionOffset == next - 8)

        // Over the first data record's header, when the transaction has one.
        if !middle.oids.isEmpty {
            let record = middle.position + 23 + UInt64(middle.user.count + middle.description.count + middle.extension.count)
            damaged = bytes
            for i in 16..<34 { damaged[Int(record) + i] = 0xff }
            let c = try TemporaryDirectory()
            #expect(storageError { try FileStorage(path: try! c.write("Data.fs", damaged)) }?.corruptionOffset == record)
        }
    }

    @Test func fs21MagicIsAcceptedAndOtherMagicRejected() throws {
        guard let fixture = ExternalFixtures.zope() else { return }
        let (path, directory) = try copy(fixture, withIndex: true)
        let reference = try FileStorage(path: path)
        defer { reference.close() }
        var bytes = try directory.read("Data.fs")
        bytes.replaceSubrange(0..<4, with: Array("FS21".utf8))
        let fs21 = try FileStorage(path: try directory.write("Old.fs", bytes))
        defer { fs21.close() }
        #expect(fs21.magic == "FS21")
        expectSameState(fs21, reference)

        bytes.replaceSubrange(0..<4, with: Array("FS99".utf8))
        let other = try directory.write("Other.fs", bytes)
        #expect(storageError { try FileStorage(path: other) } == .notAFileStorage(path: other))
    }

    /// The parts of the builder's `manifest.json` these tests read.
    struct Manifest: Decodable {
        struct Entry: Decodable {
            var oid: String
            var tid: String
            var mtime: Double?
        }
        var entries: [Entry]
        var transactions: Int?
        var last_tid: String?
    }

    /// The builder's manifest lists, for every object, the serial ZODB's
    /// `load` returned and `TimeStamp(serial).timeTime()`.
    @Test func theManifestAgrees() throws {
        guard let fixture = ExternalFixtures.zope() else { return }
        // JSONDecoder, not JSONSerialization: the latter rounds some doubles.
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture + "/manifest.json"))
        let manifest = try JSONDecoder().decode(Manifest.self, from: data)
        let storage = try FileStorage(path: fixture + "/Data.fs")
        defer { storage.close() }
        if let last = manifest.last_tid { #expect(storage.lastTransaction.description == last) }
        if let count = manifest.transactions { #expect(try storage.transactions().count == count) }
        #expect(!manifest.entries.isEmpty)
        for entry in manifest.entries {
            let oid = try #require(UInt64(entry.oid, radix: 16))
            let record = try storage.currentRecord(OID(oid))
            #expect(record.tid.description == entry.tid, "\(entry.oid)")
            if let mtime = entry.mtime { #expect(record.tid.timeIntervalSince1970 == mtime, "\(entry.oid)") }
        }
    }
}
