import Foundation
@_spi(Testing) import Storage
import SystemPackage
import Testing
import TestSupport

/// Commits through ``FileStorage/commit(_:metadata:)``, checked with this
/// package's own reader and byte layout; `CommitPythonTests` has ZODB read
/// the same kind of files.
@Suite struct CommitTests {
    typealias Layout = Samples.SmallLayout

    static func fresh(_ directory: TemporaryDirectory, clock: CommitClock = .system) throws -> FileStorage {
        try FileStorage(path: directory.path + "/Data.fs", readOnly: false, createIfMissing: true, clock: clock)
    }

    @Test func commitsIntoAFreshStorage() throws {
        let directory = try TemporaryDirectory()
        let storage = try Self.fresh(directory)
        #expect(storage.size == 4)
        #expect(try storage.newOIDs(2) == [OID(1), OID(2)])

        let root = Pickles.mapping("root")
        let first = try storage.commit(
            [.bytes(.root, nil, root)], metadata: TransactionMetadata(description: "initial database creation"))
        #expect(first.position == 4)
        #expect(first.length == 23 + 25 + 42 + UInt64(root.count))
        #expect(storage.size == 4 + first.length + 8)
        #expect(storage.lastTransaction == first.tid)
        #expect(try storage.load(.root) == (root, first.tid))
        #expect(try storage.currentSerial(.root) == first.tid)
        #expect(try storage.currentSerial(OID(1)) == nil)

        let a = Pickles.mapping("a"), b = Pickles.mapping("b"), root2 = Pickles.mapping("root 2")
        let second = try storage.commit(
            [.bytes(.root, first.tid, root2), .bytes(OID(1), nil, a), .bytes(OID(2), nil, b)],
            metadata: TransactionMetadata(user: "/ admin", description: "add a and b", extensionBytes: Pickles.fooBarExtension))
        #expect(second.position == storage.size - second.length - 8)
        #expect(second.tid > first.tid)
        #expect(try storage.load(OID(1)) == (a, second.tid))
        #expect(try storage.revisions(of: .root).map(\.tid) == [second.tid, first.tid])
        #expect(storage.objectCount == 3)
        #expect(storage.largestOID == OID(2))

        let transactions = try storage.transactions()
        #expect(transactions.map(\.tid) == [first.tid, second.tid])
        #expect(transactions.map(\.position) == [first.position, second.position])
        #expect(transactions.allSatisfy { $0.status == TransactionStatus.committed })
        #expect(transactions[1].user == Array("/ admin".utf8))
        #expect(transactions[1].description == Array("add a and b".utf8))
        #expect(transactions[1].extension == Pickles.fooBarExtension)
        #expect(transactions[1].oids == [.root, OID(1), OID(2)])

        // The bytes are FS30's: header, data header with prev and tloc, trailer.
        let bytes = try directory.read("Data.fs")
        let header = try TransactionHeader(parsing: bytes[Int(second.position)...], at: second.position, path: "Data.fs")
        #expect(header == TransactionHeader(
            tid: second.tid, length: second.length, status: TransactionStatus.committed,
            userLength: 7, descriptionLength: 11, extensionLength: UInt16(Pickles.fooBarExtension.count)))
        let recordAt = Int(second.position + header.headerLength)
        let data = try DataHeader(parsing: bytes[recordAt...], at: UInt64(recordAt), path: "Data.fs")
        #expect(data == DataHeader(
            oid: .root, tid: second.tid, previous: first.position + 23 + 25, transactionPosition: second.position,
            pickleLength: UInt64(root2.count)))
        #expect(Array(bytes.suffix(8)) == second.length.bigEndianBytesForTest)
        storage.close()

        // Reopened from the index saved on close, and by a full scan.
        for withIndex in [true, false] {
            if !withIndex { try FileManager.default.removeItem(atPath: directory.path + "/Data.fs.index") }
            let again = try FileStorage(path: directory.path + "/Data.fs")
            #expect(again.usedIndexFile == withIndex)
            #expect(again.lastTransaction == second.tid)
            #expect(again.indexSnapshot() == storage.indexSnapshot())
            #expect(try again.load(OID(2)) == (b, second.tid))
            #expect(again.warnings.isEmpty)
            again.close()
        }
    }

    @Test func emptyTransactionsAreTransactions() throws {
        let directory = try TemporaryDirectory()
        let storage = try Self.fresh(directory)
        defer { storage.close() }
        let result = try storage.commit([], metadata: TransactionMetadata(description: "nothing"))
        #expect(result.length == 23 + 7)
        #expect(try storage.transactions().map(\.oids) == [[]])
    }

    @Test func commitsIntoTheSampleContinueItsChains() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("Data.fs", Samples.small)
        let storage = try FileStorage(path: path, readOnly: false)
        #expect(try storage.currentSerial(OID(1)) == Layout.tids[3])
        #expect(try storage.newOIDs(1) == [OID(2)])
        let result = try storage.commit(
            [.bytes(OID(1), Layout.tids[3], Pickles.mapping("x")), .bytes(OID(3), nil, Pickles.mapping("y"))],
            metadata: TransactionMetadata())
        #expect(result.position == 783)
        #expect(try storage.revisions(of: OID(1)).map(\.position) == [783 + 23, 725, 539, 359])
        // A stored oid above the counter raises it (set_max_oid).
        #expect(try storage.newOIDs(2) == [OID(4), OID(5)])
        storage.close()
        let bytes = try directory.read("Data.fs")
        #expect(Array(bytes.prefix(783)) == Samples.small)
        let (position, index) = try IndexFile.load(path: path + ".index")
        #expect(position == UInt64(bytes.count))
        #expect(index == storage.indexSnapshot())
    }

    @Test func newOIDsStartAboveTheLargestAndNeverRepeat() throws {
        let directory = try TemporaryDirectory()
        let storage = try Self.fresh(directory)
        #expect(try storage.newOIDs(0) == [])
        let all = try (0..<10).flatMap { _ in try storage.newOIDs(3) }
        #expect(all == (1...30).map { OID(UInt64($0)) })
        _ = try storage.commit([.bytes(OID(100), nil, Pickles.mapping("far"))], metadata: TransactionMetadata())
        #expect(try storage.newOIDs(1) == [OID(101)])
        storage.close()
        let again = try FileStorage(path: directory.path + "/Data.fs", readOnly: false)
        defer { again.close() }
        #expect(try again.newOIDs(1) == [OID(101)])

        // Concurrent callers never get the same oid.
        let seen = Guarded<[OID]>([])
        runConcurrently(8) { _ in
            for _ in 0..<50 {
                let oids = (try? again.newOIDs(2)) ?? []
                seen.withLock { $0 += oids }
            }
        }
        let oids = seen.withLock { $0 }
        #expect(oids.count == 800 && Set(oids).count == 800)
        #expect(oids.min() == OID(102))
    }

    @Test func tidsIncreaseStrictlyWhenTheClockStepsBack() throws {
        let directory = try TemporaryDirectory()
        let now = 1_795_318_105.009
        let clock = ManualClock(now)
        let storage = try Self.fresh(directory, clock: clock.clock)

        let first = try storage.commit([.bytes(.root, nil, Pickles.mapping("0"))], metadata: TransactionMetadata())
        #expect(first.tid == TID(timeIntervalSince1970: now))
        // The clock steps back an hour: the tid is the last one plus one step.
        clock.set(now - 3600)
        let second = try storage.commit([.bytes(.root, first.tid, Pickles.mapping("1"))], metadata: TransactionMetadata())
        #expect(second.tid == TID(rawValue: first.tid.rawValue + 1))
        // The same instant again.
        let third = try storage.commit([], metadata: TransactionMetadata())
        #expect(third.tid == TID(rawValue: second.tid.rawValue + 1))
        // The clock catches up: its own time again.
        clock.set(now + 1)
        let fourth = try storage.commit([], metadata: TransactionMetadata())
        #expect(fourth.tid == TID(timeIntervalSince1970: now + 1))
        storage.close()

        // A reopened storage continues after the file's last tid, not the clock's.
        clock.set(now - 86_400)
        let again = try FileStorage(path: directory.path + "/Data.fs", readOnly: false, clock: clock.clock)
        defer { again.close() }
        let fifth = try again.commit([], metadata: TransactionMetadata())
        #expect(fifth.tid == TID(rawValue: fourth.tid.rawValue + 1))
        let tids = try again.transactions().map(\.tid)
        #expect(tids == [first.tid, second.tid, third.tid, fourth.tid, fifth.tid])
        #expect(again.warnings.isEmpty)  // no "time-stamp reduction"
    }

    @Test func conflictsWriteNothing() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("Data.fs", Samples.small)
        let storage = try FileStorage(path: path, readOnly: false)
        defer { storage.close() }
        let t = Layout.tids
        let cases: [(PendingRecord, StorageError)] = [
            // Expected a new object, but it exists.
            (.bytes(OID(1), nil, [1]), .conflict(oid: OID(1), expected: nil, actual: t[3])),
            // An older serial.
            (.bytes(OID(1), t[2], [1]), .conflict(oid: OID(1), expected: t[2], actual: t[3])),
            // A serial for an object that does not exist.
            (.bytes(OID(7), t[3], [1]), .conflict(oid: OID(7), expected: t[3], actual: nil)),
        ]
        for (record, expected) in cases {
            // The good record first: nothing of it is written either.
            let error = storageError { try storage.commit([.bytes(.root, t[1], [1]), record], metadata: TransactionMetadata()) }
            #expect(error == expected)
            #expect(error?.errno == 11)  // EAGAIN
            #expect(error?.description.contains("conflict on") == true)
        }
        #expect(storage.size == 783)
        #expect(try directory.read("Data.fs") == Samples.small)
        // The serial of a deleted (undone) object is its deletion's tid, as in ZODB.
        let error = storageError { try storage.commit([.bytes(.root, t[0], [1])], metadata: TransactionMetadata()) }
        #expect(error == .conflict(oid: .root, expected: t[0], actual: t[1]))
        _ = try storage.commit([.bytes(.root, t[1], Pickles.mapping("ok"))], metadata: TransactionMetadata())
    }

    @Test func invalidTransactionsAreRefused() throws {
        let directory = try TemporaryDirectory()
        let storage = try Self.fresh(directory)
        defer { storage.close() }
        let long = String(repeating: "u", count: 65536)
        let cases: [([PendingRecord], TransactionMetadata)] = [
            ([], TransactionMetadata(user: long)),
            ([], TransactionMetadata(description: long)),
            ([], TransactionMetadata(extensionBytes: [UInt8](repeating: 0, count: 65536))),
            ([.bytes(OID(1), nil, [])], TransactionMetadata()),
            ([PendingRecord(oid: OID(1), expectedSerial: nil, segments: [])], TransactionMetadata()),
            ([.bytes(OID(1), nil, [1]), .bytes(OID(1), nil, [2])], TransactionMetadata()),
        ]
        for (records, metadata) in cases {
            let error = storageError { try storage.commit(records, metadata: metadata) }
            guard case .invalidTransaction = error else {
                Issue.record("expected invalidTransaction, got \(String(describing: error))")
                continue
            }
            #expect(error?.errno == 22)
        }
        #expect(storage.size == 4)
        // 65535 is still fine.
        _ = try storage.commit([], metadata: TransactionMetadata(description: String(repeating: "d", count: 65535)))
    }

    @Test func readOnlyStoragesDoNotCommit() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(path: try directory.write("Data.fs", Samples.small))
        defer { storage.close() }
        #expect(storageError { try storage.commit([], metadata: TransactionMetadata()) } == .readOnly)
        #expect(storageError { try storage.newOIDs(1) } == .readOnly)
    }

    @Test func closedStoragesDoNotCommit() throws {
        let directory = try TemporaryDirectory()
        let storage = try Self.fresh(directory)
        storage.close()
        let path = directory.path + "/Data.fs"
        #expect(storageError { try storage.commit([], metadata: TransactionMetadata()) } == .closed(path: path))
        #expect(storageError { try storage.newOIDs(1) } == .closed(path: path))
        #expect(storageError { try storage.currentSerial(.root) } == .closed(path: path))
    }

    @Test func fileSegmentsAreCopiedFromTheirFile() throws {
        let directory = try TemporaryDirectory()
        let storage = try Self.fresh(directory)
        defer { storage.close() }
        // A spool of 3 MiB + 17 bytes, committed as 64 KiB records (Pdata-sized)
        // and as one 3 MiB record, from the middle of the file.
        let content = pseudoRandomBytes(3 << 20 + 17, seed: 7)
        let spool = try spoolFile(directory, "spool", [0, 1, 2] + content + [9, 9])
        defer { try? spool.close() }
        let chunk = 1 << 16
        let chunks = stride(from: 0, to: content.count, by: chunk).map { $0..<min($0 + chunk, content.count) }
        let oids = try storage.newOIDs(chunks.count + 1)
        var records = zip(oids, chunks).map { oid, range in
            let (prefix, suffix) = Pickles.bytesMapping(count: range.count)
            return PendingRecord(
                oid: oid, expectedSerial: nil,
                segments: [.bytes(prefix), .file(spool, offset: Int64(3 + range.lowerBound), length: range.count), .bytes(suffix)])
        }
        let (prefix, suffix) = Pickles.bytesMapping(count: content.count)
        records.append(PendingRecord(
            oid: oids.last!, expectedSerial: nil,
            segments: [.bytes(prefix), .file(spool, offset: 3, length: content.count), .bytes(suffix)]))
        let result = try storage.commit(records, metadata: TransactionMetadata(description: "upload"))
        for (oid, range) in zip(oids, chunks) {
            let (prefix, suffix) = Pickles.bytesMapping(count: range.count)
            #expect(try storage.load(oid) == (prefix + content[range] + suffix, result.tid))
        }
        #expect(try storage.load(oids.last!).data == prefix + content + suffix)

        // A segment may come from the storage's own file: an unchanged chunk
        // of an earlier record, copied past the end (same file, no overlap).
        let old = try storage.currentRecord(oids[1])
        let relinked = try storage.commit(
            [PendingRecord(
                oid: oids[1], expectedSerial: result.tid,
                segments: [.file(FileDescriptor(rawValue: storage.descriptor), offset: Int64(old.pickleOffset), length: old.pickleLength)])],
            metadata: TransactionMetadata())
        #expect(try storage.load(oids[1]) == (try storage.read(at: old.pickleOffset, count: old.pickleLength), relinked.tid))

        // A range the file does not hold fails the commit and writes nothing.
        let size = storage.size
        let error = storageError {
            try storage.commit(
                [PendingRecord(oid: OID(1000), expectedSerial: nil, segments: [.file(spool, offset: Int64(content.count), length: 100)])],
                metadata: TransactionMetadata())
        }
        #expect(error?.errno == 5)
        #expect(storage.size == size)
        #expect(UInt64(try directory.read("Data.fs").count) == size)
    }

    @Test func readersSeeACommitOnlyAfterItsFsync() throws {
        let directory = try TemporaryDirectory()
        let storage = try Self.fresh(directory)
        defer { storage.close() }
        var faults = CommitFaults()
        faults.syncDelay = 0.5
        storage.setCommitFaults(faults)
        let done = Guarded<CommitResult?>(nil)
        let thread = Thread {
            let result = try? storage.commit([.bytes(.root, nil, Pickles.mapping("r"))], metadata: TransactionMetadata())
            done.withLock { $0 = result }
        }
        thread.start()
        // While the fsync sleeps, the bytes are in the file but not in the storage.
        var sawWritten = false
        for _ in 0..<40 where !sawWritten {
            usleep(10_000)
            sawWritten = (try? directory.read("Data.fs").count).map { $0 > 4 } ?? false
        }
        #expect(sawWritten)
        #expect(done.withLock { $0 } == nil)
        #expect(storage.size == 4)
        #expect(storageError { try storage.load(.root) } == .objectNotFound(.root))
        #expect(try storage.currentSerial(.root) == nil)
        var result: CommitResult?
        for _ in 0..<300 where result == nil {
            usleep(10_000)
            result = done.withLock { $0 }
        }
        let committed = try #require(result)
        #expect(storage.size == committed.position + committed.length + 8)
        #expect(try storage.currentSerial(.root) == committed.tid)
    }

    @Test func pollOfAReadWriteStorageHasNothingToFollow() throws {
        let directory = try TemporaryDirectory()
        let storage = try Self.fresh(directory)
        defer { storage.close() }
        _ = try storage.commit([], metadata: TransactionMetadata())
        #expect(try storage.poll().isEmpty)
        #expect(try storage.transactions().count == 1)
    }
}

extension UInt64 {
    var bigEndianBytesForTest: [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: self >> (56 - 8 * UInt64($0))) } }
}
