import Foundation
import Storage
import Testing
import TestSupport

/// A read-write open cuts a torn tail the way ZODB's `read_index` does:
/// copied to `Data.fs.tr0`, the file truncated after the last complete
/// transaction. A read-only open leaves the file alone; damage in the middle
/// fails both.
@Suite struct TailRecoveryTests {
    /// A storage this package committed: three transactions, the last one
    /// with user, description, extension and two records.
    static func committed(_ directory: TemporaryDirectory) throws -> (bytes: [UInt8], last: CommitResult, previous: CommitResult) {
        let storage = try FileStorage(path: directory.path + "/source.fs", readOnly: false, createIfMissing: true)
        let first = try storage.commit([.bytes(.root, nil, Pickles.mapping("root"))], metadata: TransactionMetadata(description: "initial database creation"))
        let second = try storage.commit([.bytes(OID(1), nil, Pickles.mapping("one"))], metadata: TransactionMetadata(user: "/ admin"))
        let third = try storage.commit(
            [.bytes(.root, first.tid, Pickles.mapping("root 2")), .bytes(OID(1), second.tid, Pickles.mapping("one 2"))],
            metadata: TransactionMetadata(user: "/ admin", description: "/folder/manage_edit", extensionBytes: Pickles.fooBarExtension))
        storage.close()
        return (try directory.read("source.fs"), third, second)
    }

    @Test func everyCutOfTheLastTransactionRecoversThePreviousOne() throws {
        let directory = try TemporaryDirectory()
        let (bytes, last, previous) = try Self.committed(directory)
        let start = Int(last.position)
        #expect(bytes.count == start + Int(last.length) + 8)
        var recovered: [String] = []
        // Cuts from 1 byte (fewer than a header) to all but the last byte.
        for cut in (start + 1)..<bytes.count {
            let name = "cut\(cut).fs"
            let path = try directory.write(name, Array(bytes[..<cut]))
            // Read-only: the file stays as it is.
            let reader = try FileStorage(path: path)
            #expect(reader.size == last.position && reader.lastTransaction == previous.tid)
            reader.close()
            #expect(try directory.read(name).count == cut)
            #expect(!directory.exists(name + ".tr0"))

            let storage = try FileStorage(path: path, readOnly: false)
            #expect(storage.size == last.position)
            #expect(storage.lastTransaction == previous.tid)
            #expect(try storage.load(OID(1)).data == Pickles.mapping("one"))
            #expect(storage.warnings.contains { $0.message.contains(name + ".tr0") })
            storage.close()
            #expect(try directory.read(name) == Array(bytes[..<start]))
            #expect(try directory.read(name + ".tr0") == Array(bytes[start..<cut]))
            recovered.append(path)
        }
        if PythonPeer.enabled {
            try Self.expectPythonReads(recovered, size: last.position, lastTID: previous.tid, transactions: 2)
        }
    }

    @Test func aCheckpointStatusIsCutAndTheNextCommitReplacesIt() throws {
        let directory = try TemporaryDirectory()
        var (bytes, last, previous) = try Self.committed(directory)
        // A commit that voted but never finished: complete, status 'c'.
        bytes[Int(last.position) + 16] = TransactionStatus.checkpoint
        let path = try directory.write("Data.fs", bytes)
        try directory.write("Data.fs.tr0", [1, 2, 3])  // taken: the tail goes to .tr1

        let storage = try FileStorage(path: path, readOnly: false)
        #expect(storage.size == last.position)
        #expect(storage.lastTransaction == previous.tid)
        #expect(try directory.read("Data.fs.tr0") == [1, 2, 3])
        #expect(try directory.read("Data.fs.tr1") == Array(bytes[Int(last.position)...]))
        let next = try storage.commit([.bytes(OID(2), nil, Pickles.mapping("two"))], metadata: TransactionMetadata())
        #expect(next.position == last.position)
        #expect(next.tid > previous.tid)
        storage.close()
        let again = try FileStorage(path: path)
        defer { again.close() }
        #expect(again.warnings.isEmpty)
        #expect(try again.transactions().count == 3)
        if PythonPeer.enabled {
            try Self.expectPythonReads([path], size: again.size, lastTID: next.tid, transactions: 3)
        }
    }

    @Test func aTornTailAfterTheIndexedPositionIsCutToo() throws {
        let directory = try TemporaryDirectory()
        let (bytes, last, previous) = try Self.committed(directory)
        let path = try directory.write("Data.fs", Array(bytes[..<Int(last.position)]))
        // The index of the good part, saved by a close, then a torn commit.
        try FileStorage(path: path, readOnly: false).close()
        #expect(directory.exists("Data.fs.index"))
        try directory.append("Data.fs", Array(bytes[Int(last.position)..<(bytes.count - 30)]))

        let storage = try FileStorage(path: path, readOnly: false)
        #expect(storage.usedIndexFile)
        #expect(storage.size == last.position && storage.lastTransaction == previous.tid)
        storage.close()
        #expect(try directory.read("Data.fs") == Array(bytes[..<Int(last.position)]))
        #expect(try directory.read("Data.fs.tr0").count == Int(last.length) + 8 - 30)
    }

    @Test func damageInTheMiddleFailsTheOpenAndTouchesNothing() throws {
        let directory = try TemporaryDirectory()
        let (clean, _, previous) = try Self.committed(directory)
        var bytes = clean
        // The trailer of the second transaction no longer repeats its tlen.
        let trailer = Int(previous.position + previous.length)
        bytes[trailer + 7] ^= 0xff
        let path = try directory.write("Data.fs", bytes)
        let error = storageError { try FileStorage(path: path, readOnly: false) }
        #expect(error?.corruptionOffset == UInt64(trailer))
        #expect(try directory.read("Data.fs") == bytes)
        #expect(!directory.exists("Data.fs.tr0"))

        // A 'c' transaction followed by a complete one is damage, not a tail.
        var checkpointInTheMiddle = clean
        checkpointInTheMiddle[Int(previous.position) + 16] = TransactionStatus.checkpoint
        let other = try directory.write("Middle.fs", checkpointInTheMiddle)
        #expect(storageError { try FileStorage(path: other, readOnly: false) }?.corruptionOffset == previous.position)
        #expect(try directory.read("Middle.fs") == checkpointInTheMiddle)
        #expect(!directory.exists("Middle.fs.tr0"))
    }

    /// ZODB opens every file read-only and `fstest` passes on it.
    static func expectPythonReads(
        _ paths: [String], size: UInt64, lastTID: TID, transactions: Int, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let checks = try #require(try PythonPeer.json("check_storages.py", paths) as? [[String: Any]])
        #expect(checks.count == paths.count, sourceLocation: sourceLocation)
        for check in checks {
            let path = check["path"] as? String ?? "?"
            #expect((check["size"] as? NSNumber)?.uint64Value == size, "\(path)", sourceLocation: sourceLocation)
            #expect(check["last_tid"] as? String == lastTID.description, "\(path)", sourceLocation: sourceLocation)
            #expect((check["transactions"] as? NSNumber)?.intValue == transactions, "\(path)", sourceLocation: sourceLocation)
            #expect(check["fstest"] is NSNull, "\(path): \(check["fstest"] ?? "")", sourceLocation: sourceLocation)
        }
        // And the script itself, as users run it.
        if let first = paths.first {
            let fstest = try PythonPeer.fstest(first)
            #expect(fstest.status == 0, "\(fstest.stdout)\(fstest.stderr)", sourceLocation: sourceLocation)
        }
    }
}
