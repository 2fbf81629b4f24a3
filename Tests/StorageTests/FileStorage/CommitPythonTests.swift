import Foundation
import Storage
import SystemPackage
import Testing
import TestSupport

/// What this package commits, read by the real ZODB: its FileStorage dumps
/// every transaction and record (`Scripts/peers/dump_transactions.py`),
/// `fstest.py` and `fsrefs.py` pass, and its `fsIndex` loader accepts the
/// saved `Data.fs.index`. Runs when `ZODBFS_PYTHON` is set (always with
/// `CI=true`).
@Suite(.enabled(if: PythonPeer.enabled)) struct CommitPythonTests {
    /// What a test committed, to compare with Python's dump.
    struct Expected {
        var tid: TID
        var position: UInt64
        var user: String
        var description: String
        var `extension`: [String: String]
        /// oid, prev, pickle
        var records: [(oid: OID, prev: UInt64, data: [UInt8])]
    }

    /// Compares Python's dump of `path` with `expected`, the transactions
    /// from `expected.first` on (earlier ones are the fixture's).
    static func expectPythonAgrees(
        _ path: String, _ expected: [Expected], storage: FileStorage, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let dump = try PythonDump(path)
        #expect(dump.size == storage.size, sourceLocation: sourceLocation)
        #expect(dump.lastTID == storage.lastTransaction.description, sourceLocation: sourceLocation)
        #expect(dump.objects == storage.objectCount, sourceLocation: sourceLocation)
        // Python trusted our Data.fs.index, its position is the end, and it equals a scan.
        #expect(dump.usedIndex, sourceLocation: sourceLocation)
        #expect(dump.index?.position == storage.size, sourceLocation: sourceLocation)
        #expect(dump.index?.equalsScan == true, sourceLocation: sourceLocation)

        let ours = dump.transactions.suffix(expected.count)
        #expect(ours.count == expected.count, sourceLocation: sourceLocation)
        for (python, expected) in zip(ours, expected) {
            #expect(python.tid == expected.tid.description, sourceLocation: sourceLocation)
            #expect(python.position == expected.position, sourceLocation: sourceLocation)
            #expect(python.status == " ", sourceLocation: sourceLocation)
            #expect(python.user == expected.user, sourceLocation: sourceLocation)
            #expect(python.description == expected.description, sourceLocation: sourceLocation)
            #expect(python.extension as? [String: String] == expected.extension, sourceLocation: sourceLocation)
            let records = python.records
            #expect(records.count == expected.records.count, sourceLocation: sourceLocation)
            var at = expected.position + 23 + UInt64(expected.user.utf8.count + expected.description.utf8.count)
                + (expected.extension.isEmpty ? 0 : UInt64(Pickles.fooBarExtension.count))
            for (record, want) in zip(records, expected.records) {
                #expect(record == PythonDump.Record(
                    oid: want.oid.description, tid: expected.tid.description, position: at, prev: want.prev,
                    tloc: expected.position, plen: UInt64(want.data.count), sha256: sha256Hex(want.data)),
                    sourceLocation: sourceLocation)
                at += 42 + UInt64(want.data.count)
            }
        }
        // Every current object loads in Python as it does here.
        for (oid, _) in storage.indexSnapshot() {
            guard let loaded = try? storage.load(oid) else { continue }
            let python = dump.current[oid.description]
            #expect(python?.tid == loaded.tid.description && python?.sha256 == sha256Hex(loaded.data), "\(oid)", sourceLocation: sourceLocation)
        }
        let fstest = try PythonPeer.fstest(path)
        #expect(fstest.status == 0, "fstest: \(fstest.stdout)\(fstest.stderr)", sourceLocation: sourceLocation)
        let fsrefs = try PythonPeer.fsrefs(path)
        #expect(fsrefs.status == 0 && fsrefs.stdout.isEmpty, "fsrefs: \(fsrefs.stdout)\(fsrefs.stderr)", sourceLocation: sourceLocation)
    }

    @Test func pythonReadsAFreshStorage() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/Data.fs"
        let storage = try FileStorage(path: path, readOnly: false, createIfMissing: true)
        var expected: [Expected] = []
        func commit(_ records: [(OID, TID?, [UInt8])], _ metadata: TransactionMetadata, extension: [String: String] = [:]) throws -> CommitResult {
            let prevs = records.map { storage.position(of: $0.0) ?? 0 }
            let result = try storage.commit(records.map { .bytes($0.0, $0.1, $0.2) }, metadata: metadata)
            expected.append(Expected(
                tid: result.tid, position: result.position, user: metadata.user, description: metadata.description,
                extension: `extension`, records: zip(records, prevs).map { ($0.0.0, $0.1, $0.0.2) }))
            return result
        }
        let first = try commit([(.root, nil, Pickles.mapping("root"))], TransactionMetadata(description: "initial database creation"))
        let oids = try storage.newOIDs(3)
        let second = try commit(
            [(.root, first.tid, Pickles.mapping("root 2")), (oids[0], nil, Pickles.mapping("a")), (oids[1], nil, Pickles.mapping("b"))],
            TransactionMetadata(user: "/ admin", description: "/folder/manage_addFile", extensionBytes: Pickles.fooBarExtension),
            extension: ["foo": "bar"])
        _ = try commit([(oids[1], second.tid, Pickles.mapping("b 2 ünïcode")), (oids[2], nil, Pickles.mapping("c"))],
                       TransactionMetadata(user: " zöpe", description: "édit"))
        _ = try commit([], TransactionMetadata(description: "empty"))

        // A big record streamed from a spool file.
        let content = pseudoRandomBytes(5 << 20 + 3, seed: 11)
        let spool = try spoolFile(directory, "spool", content)
        defer { try? spool.close() }
        let (prefix, suffix) = Pickles.bytesMapping(count: content.count)
        let big = try storage.newOIDs(1)[0]
        let upload = try storage.commit(
            [PendingRecord(oid: big, expectedSerial: nil, segments: [.bytes(prefix), .file(spool, offset: 0, length: content.count), .bytes(suffix)])],
            metadata: TransactionMetadata(description: "upload"))
        expected.append(Expected(
            tid: upload.tid, position: upload.position, user: "", description: "upload", extension: [:],
            records: [(big, 0, prefix + content + suffix)]))
        storage.close()
        try Self.expectPythonAgrees(path, expected, storage: storage)
    }

    @Test func pythonReadsCommitsIntoTheZopeFixture() throws {
        guard let fixture = ExternalFixtures.zope() else { return }
        let directory = try TemporaryDirectory()
        let path = try directory.copy(fixture + "/Data.fs", as: "Data.fs")
        try directory.copy(fixture + "/Data.fs.index", as: "Data.fs.index")
        let storage = try FileStorage(path: path, readOnly: false)
        #expect(storage.usedIndexFile)
        let end = storage.size
        let largest = try #require(storage.largestOID)

        // Rewrite a few existing objects with their own current state (a
        // no-op edit, as a Zope that saves unchanged objects makes), and add
        // new unreferenced objects, in several transactions.
        var expected: [Expected] = []
        let existing = Array(storage.indexSnapshot().prefix(6)).filter { (try? storage.load($0.oid)) != nil }
        for (i, pair) in existing.enumerated() {
            let (data, serial) = try storage.load(pair.oid)
            let new = try storage.newOIDs(1)[0]
            #expect(new.rawValue == largest.rawValue + 1 + UInt64(i))
            let mapping = Pickles.mapping("new \(i)")
            let result = try storage.commit(
                [.bytes(pair.oid, serial, data), .bytes(new, nil, mapping)],
                metadata: TransactionMetadata(user: "/ admin", description: "/edit \(i)", extensionBytes: Pickles.fooBarExtension))
            expected.append(Expected(
                tid: result.tid, position: result.position, user: "/ admin", description: "/edit \(i)",
                extension: ["foo": "bar"], records: [(pair.oid, pair.position, data), (new, 0, mapping)]))
        }
        #expect(expected.first?.position == end)
        storage.close()
        try Self.expectPythonAgrees(path, expected, storage: storage)

        // Zope's objects still load in Python with their classes.
        let objects = try #require(try PythonPeer.json("dump_objects.py", [path]) as? [String: [String: Any]])
        for i in 0..<existing.count {
            let oid = OID(largest.rawValue + 1 + UInt64(i))
            #expect(objects[oid.description]?["class"] as? String == "persistent.mapping.PersistentMapping")
        }
    }

    @Test func aStorageThatZODBHoldsOpenForWritingIsRefused() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("Data.fs", Samples.small)
        let ready = directory.path + "/ready"
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: try TestEnvironment.python())
        holder.arguments = [TestEnvironment.script("peers/hold_storage.py"), path, ready]
        let input = Pipe()
        holder.standardInput = input
        try holder.run()
        defer {
            try? input.fileHandleForWriting.close()
            holder.waitUntilExit()
        }
        var waited = 0
        while !FileManager.default.fileExists(atPath: ready) && holder.isRunning && waited < 3000 {
            usleep(10_000)
            waited += 1
        }
        #expect(FileManager.default.fileExists(atPath: ready), "the Python holder did not open the storage")

        let error = storageError { try FileStorage(path: path, readOnly: false) }
        #expect(error == .locked(path: path + ".lock"))
        #expect(error?.description.contains("open for writing") == true)
        // A read-only open is not refused.
        let reader = try FileStorage(path: path)
        #expect(reader.size == 783)
        reader.close()

        // Once Python let go, the storage opens for writing and commits.
        try input.fileHandleForWriting.close()
        holder.waitUntilExit()
        #expect(holder.terminationStatus == 0)
        let storage = try FileStorage(path: path, readOnly: false)
        defer { storage.close() }
        _ = try storage.commit([.bytes(OID(2), nil, Pickles.mapping("after"))], metadata: TransactionMetadata())
    }
}
