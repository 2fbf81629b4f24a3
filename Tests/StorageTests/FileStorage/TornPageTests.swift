import Foundation
import Storage
import Testing
import TestSupport

/// What a crash can leave in the last pages of a Data.fs besides a clean cut
/// (``TailRecoveryTests`` cuts at every byte): the file grown but its new
/// pages never written (zeros), or garbage there. Whatever the tail holds,
/// every transaction whose commit returned is kept; a read-write open cuts
/// the rest as ZODB's `read_index` does and a read-only open stops before
/// it, both agreeing with the real ZODB.
@Suite struct TornPageTests {
    static let page = 4096

    /// Three committed transactions, the last one spanning several pages.
    static func committed(_ directory: TemporaryDirectory) throws -> (bytes: [UInt8], last: CommitResult, previous: CommitResult) {
        let storage = try FileStorage(path: directory.path + "/source.fs", readOnly: false, createIfMissing: true)
        let first = try storage.commit([.bytes(.root, nil, Pickles.mapping("root"))], metadata: TransactionMetadata())
        let second = try storage.commit([.bytes(OID(1), nil, Pickles.mapping("one"))], metadata: TransactionMetadata(user: "u"))
        let third = try storage.commit(
            [.bytes(.root, first.tid, Pickles.mapping("root 2")),
             .bytes(OID(2), nil, Pickles.mapping(String(repeating: "payload ", count: 2600)))],
            metadata: TransactionMetadata(description: "big"))
        storage.close()
        #expect(third.length > UInt64(4 * page))
        return (try directory.read("source.fs"), third, second)
    }

    /// Opens `name` read-only, then read-write, and expects both to end at
    /// `end` with `lastTID`, the read-write open having saved `file[end...]`
    /// in `.tr0` and cut it.
    static func expectRecovered(
        _ directory: TemporaryDirectory, _ name: String, end: UInt64, lastTID: TID,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let original = try directory.read(name)
        let path = directory.path + "/" + name
        let reader = try FileStorage(path: path)
        #expect(reader.size == end && reader.lastTransaction == lastTID, "\(name) read-only", sourceLocation: sourceLocation)
        reader.close()
        #expect(try directory.read(name) == original, "a read-only open changes nothing", sourceLocation: sourceLocation)

        let storage = try FileStorage(path: path, readOnly: false)
        #expect(storage.size == end && storage.lastTransaction == lastTID, "\(name) read-write", sourceLocation: sourceLocation)
        #expect(try storage.load(OID(1)).data == Pickles.mapping("one"), sourceLocation: sourceLocation)
        // The store goes on: a commit lands right after the last good transaction.
        let next = try storage.commit([.bytes(OID(3), nil, Pickles.mapping("after"))], metadata: TransactionMetadata())
        #expect(next.position == end && next.tid > lastTID, sourceLocation: sourceLocation)
        storage.close()
        #expect(Array(try directory.read(name).prefix(Int(end))) == Array(original.prefix(Int(end))), sourceLocation: sourceLocation)
        #expect(try directory.read(name + ".tr0") == Array(original[Int(end)...]), sourceLocation: sourceLocation)
    }

    @Test func aPageOfZerosAfterTheLastTransactionIsCut() throws {
        let directory = try TemporaryDirectory()
        let (bytes, last, _) = try Self.committed(directory)
        // The file grew by a page that never reached the disk.
        try directory.write("Data.fs", bytes + [UInt8](repeating: 0, count: Self.page))
        try Self.expectRecovered(directory, "Data.fs", end: UInt64(bytes.count), lastTID: last.tid)
        if PythonPeer.enabled { try Self.expectPythonReads(directory.path + "/Data.fs", transactions: 4) }
    }

    @Test func garbageAfterTheLastTransactionIsCut() throws {
        let directory = try TemporaryDirectory()
        let (bytes, last, _) = try Self.committed(directory)
        for (i, size) in [1, 22, 23, 100, Self.page, 3 * Self.page + 7].enumerated() {
            let name = "garbage-\(size).fs"
            try directory.write(name, bytes + pseudoRandomBytes(size, seed: UInt64(40 + i)))
            try Self.expectRecovered(directory, name, end: UInt64(bytes.count), lastTID: last.tid)
            if PythonPeer.enabled { try Self.expectPythonReads(directory.path + "/" + name, transactions: 4) }
        }
    }

    /// A commit cut by a crash after the file grew: its header says `'c'`,
    /// the pages from some boundary on hold zeros, the length is whole.
    @Test func aCommitWhosePagesFromAnyBoundaryOnAreZerosIsCut() throws {
        let directory = try TemporaryDirectory()
        let (bytes, last, previous) = try Self.committed(directory)
        let start = Int(last.position)
        var torn = bytes
        torn[start + 16] = TransactionStatus.checkpoint
        var names: [String] = []
        let firstBoundary = (start / Self.page + 1) * Self.page
        for boundary in stride(from: firstBoundary, to: bytes.count, by: Self.page) {
            var copy = torn
            for i in boundary..<copy.count { copy[i] = 0 }
            let name = "zeros-from-\(boundary).fs"
            try directory.write(name, copy)
            try Self.expectRecovered(directory, name, end: last.position, lastTID: previous.tid)
            names.append(name)
        }
        #expect(names.count >= 4)
        // The page holding the header never written, the rest of the commit
        // on disk (its trailer too): the tail still reads as torn.
        var headless = bytes
        for i in start..<min(firstBoundary, bytes.count) { headless[i] = 0 }
        try directory.write("headless.fs", headless)
        try Self.expectRecovered(directory, "headless.fs", end: last.position, lastTID: previous.tid)
        names.append("headless.fs")
        if PythonPeer.enabled {
            for name in names { try Self.expectPythonReads(directory.path + "/" + name, transactions: 3) }
        }
    }

    /// A transaction whose status says its commit finished but whose last
    /// page is lost is damage, not a torn tail: ZODB's `read_index` refuses
    /// it (the redundant length does not match) and so does this storage,
    /// read-only and read-write, leaving the file as it is for `fsrecover`.
    @Test func aFinishedCommitWithALostLastPageIsRefusedAsZODBRefusesIt() throws {
        let directory = try TemporaryDirectory()
        let (bytes, last, _) = try Self.committed(directory)
        var damaged = bytes
        for i in ((bytes.count - 1) / Self.page * Self.page)..<bytes.count { damaged[i] = 0 }
        let path = try directory.write("Data.fs", damaged)
        var offsets: Set<UInt64> = []
        for readOnly in [true, false] {
            let error = storageError { try FileStorage(path: path, readOnly: readOnly) }
            #expect(error?.corruptionOffset != nil, "read-only \(readOnly): \(String(describing: error))")
            #expect((error?.corruptionOffset ?? 0) >= last.position)
            offsets.insert(error?.corruptionOffset ?? 0)
        }
        #expect(offsets.count == 1)
        #expect(try directory.read("Data.fs") == damaged)
        #expect(!directory.exists("Data.fs.tr0"))
        if PythonPeer.enabled {
            let python = try runCommand(try TestEnvironment.python(), ["-c", """
                import sys
                from ZODB.FileStorage import FileStorage
                try:
                    FileStorage(sys.argv[1], read_only=True).close()
                except Exception as e:
                    print(type(e).__name__, e)
                else:
                    print('opened')
                """, path])
            // The same verdict at the same offset.
            #expect(python.stdout.contains("CorruptedTransactionError"), "\(python.stdout) \(python.stderr)")
            #expect(python.stdout.contains("at \(offsets.first ?? 0)"), "\(python.stdout) \(offsets)")
        }
    }

    /// The real ZODB opens the recovered file, sees `transactions`, and
    /// fstest passes.
    static func expectPythonReads(_ path: String, transactions: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let checks = try #require(try PythonPeer.json("check_storages.py", [path]) as? [[String: Any]])
        #expect((checks.first?["transactions"] as? NSNumber)?.intValue == transactions, "\(path)", sourceLocation: sourceLocation)
        #expect(checks.first?["fstest"] is NSNull, "\(path): \(checks.first?["fstest"] ?? "")", sourceLocation: sourceLocation)
        #expect(try PythonPeer.fstest(path).status == 0, sourceLocation: sourceLocation)
    }
}
