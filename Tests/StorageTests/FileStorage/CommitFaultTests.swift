import Foundation
@_spi(Testing) import Storage
import SystemPackage
import Testing
import TestSupport

/// A commit that fails — a full disk, a short write, a failed fsync — leaves
/// the file, the index and the end as they were, and the next commit works.
@Suite struct CommitFaultTests {
    /// A storage with two committed transactions, and its bytes.
    static func twoTransactions(_ directory: TemporaryDirectory) throws -> (FileStorage, [UInt8], TID) {
        let storage = try FileStorage(path: directory.path + "/Data.fs", readOnly: false, createIfMissing: true)
        let first = try storage.commit([.bytes(.root, nil, Pickles.mapping("root"))], metadata: TransactionMetadata())
        let second = try storage.commit(
            [.bytes(.root, first.tid, Pickles.mapping("root 2")), .bytes(OID(1), nil, Pickles.mapping("one"))],
            metadata: TransactionMetadata(user: "u", description: "d"))
        return (storage, try directory.read("Data.fs"), second.tid)
    }

    /// Everything observable is as before the failed commit.
    static func expectUnchanged(
        _ storage: FileStorage, _ directory: TemporaryDirectory, _ bytes: [UInt8], _ tid: TID,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(try directory.read("Data.fs") == bytes, sourceLocation: sourceLocation)
        #expect(storage.size == UInt64(bytes.count), sourceLocation: sourceLocation)
        #expect(storage.lastTransaction == tid, sourceLocation: sourceLocation)
        #expect(storage.objectCount == 2, sourceLocation: sourceLocation)
        #expect(try storage.currentSerial(OID(2)) == nil, sourceLocation: sourceLocation)
    }

    /// A payload of `count` bytes from a spool file, so both the buffered and
    /// the file-to-file paths are cut.
    static func records(_ spool: FileDescriptor, count: Int) -> [PendingRecord] {
        let (prefix, suffix) = Pickles.bytesMapping(count: count)
        return [
            .bytes(OID(2), nil, Pickles.mapping("two")),
            PendingRecord(oid: OID(3), expectedSerial: nil, segments: [.bytes(prefix), .file(spool, offset: 0, length: count), .bytes(suffix)]),
        ]
    }

    @Test func aWriteThatFailsAnywhereIsRolledBack() throws {
        let directory = try TemporaryDirectory()
        let (storage, bytes, tid) = try Self.twoTransactions(directory)
        defer { storage.close() }
        let payload = 3 << 20
        let spool = try spoolFile(directory, "spool", pseudoRandomBytes(payload, seed: 3))
        defer { try? spool.close() }
        let (prefix, suffix) = Pickles.bytesMapping(count: payload)
        let total = UInt64(23 + 2 * 42 + Pickles.mapping("two").count + prefix.count + payload + suffix.count + 8)
        let records = Self.records(spool, count: payload)
        // Before the header, inside it, in the records, in the copied payload, before the trailer.
        for cut: UInt64 in [0, 1, 16, 22, 23, 60, 200, 1 << 20, 2 << 20 + 5, total - 9, total - 8, total - 1] {
            var faults = CommitFaults()
            faults.failWrite = (cut, ENOSPC)
            storage.setCommitFaults(faults)
            let error = storageError { try storage.commit(records, metadata: TransactionMetadata()) }
            guard case .io(_, _, let code) = error else {
                Issue.record("cut at \(cut): expected an I/O error, got \(String(describing: error))")
                continue
            }
            #expect(code == ENOSPC)
            try Self.expectUnchanged(storage, directory, bytes, tid)
        }
        // The storage is still usable, and what it writes is whole.
        let result = try storage.commit(records, metadata: TransactionMetadata())
        #expect(result.length + 8 == total)
        storage.close()
        let again = try FileStorage(path: directory.path + "/Data.fs")
        defer { again.close() }
        #expect(again.warnings.isEmpty)
        #expect(try again.load(OID(3)).tid == result.tid)
    }

    @Test func aFailedFsyncFailsTheCommitAndTruncates() throws {
        let directory = try TemporaryDirectory()
        let (storage, bytes, tid) = try Self.twoTransactions(directory)
        defer { storage.close() }
        var faults = CommitFaults()
        faults.failSync = EIO
        storage.setCommitFaults(faults)
        let error = storageError { try storage.commit([.bytes(OID(2), nil, Pickles.mapping("two"))], metadata: TransactionMetadata()) }
        #expect(error == .io(path: directory.path + "/Data.fs", operation: "fsync", errno: EIO))
        try Self.expectUnchanged(storage, directory, bytes, tid)
        let next = try storage.commit([.bytes(OID(2), nil, Pickles.mapping("two"))], metadata: TransactionMetadata())
        // The failed commit's tid is not reused.
        #expect(next.tid > TID(rawValue: tid.rawValue + 1))
        #expect(next.position == UInt64(bytes.count))
    }

    @Test func aFailedFsyncFailsEveryCommitItWouldHaveCovered() throws {
        let directory = try TemporaryDirectory()
        let (storage, bytes, tid) = try Self.twoTransactions(directory)
        defer { storage.close() }
        // A slow fsync that fails: the commits written while it runs wait for it
        // or for the next one; the failure takes every pending one down.
        var faults = CommitFaults()
        faults.failSync = EIO
        faults.syncDelay = 0.2
        storage.setCommitFaults(faults)
        let oids = try storage.newOIDs(12)
        let outcomes = Guarded<[Int: Result<CommitResult, StorageError>]>([:])
        runConcurrently(oids.count) { i in
            let result = Result { () throws(StorageError) in
                try storage.commit([.bytes(oids[i], nil, Pickles.mapping("\(i)"))], metadata: TransactionMetadata())
            }
            outcomes.withLock { $0[i] = result }
        }
        let results = outcomes.withLock { $0 }
        let failed = results.values.filter { if case .failure = $0 { true } else { false } }
        let succeeded = results.values.compactMap { try? $0.get() }
        #expect(failed.count >= 1)
        #expect(failed.count + succeeded.count == oids.count)
        for case .failure(let error) in results.values { #expect(error.errno == EIO) }
        // What succeeded is in the file right after the old end, whole, and nothing else.
        storage.close()
        let again = try FileStorage(path: directory.path + "/Data.fs")
        defer { again.close() }
        #expect(again.warnings.isEmpty)
        let transactions = try again.transactions()
        #expect(transactions.count == 2 + succeeded.count)
        #expect(Set(transactions.dropFirst(2).map(\.tid)) == Set(succeeded.map(\.tid)))
        #expect(Array(try directory.read("Data.fs").prefix(bytes.count)) == bytes)
        #expect(transactions[1].tid == tid)
    }

    @Test func aRollbackThatCannotTruncateIsTrimmedByTheNextCommit() throws {
        let directory = try TemporaryDirectory()
        let (storage, bytes, tid) = try Self.twoTransactions(directory)
        defer { storage.close() }
        var faults = CommitFaults()
        faults.failWrite = (100, EIO)
        faults.failTruncate = EIO
        storage.setCommitFaults(faults)
        let error = storageError { try storage.commit([.bytes(OID(2), nil, Pickles.mapping(String(repeating: "x", count: 500)))], metadata: TransactionMetadata()) }
        #expect(error?.errno == EIO)
        // 100 stale bytes are left past the end; readers do not see them.
        #expect(try directory.read("Data.fs").count == bytes.count + 100)
        #expect(storage.size == UInt64(bytes.count))
        #expect(storage.lastTransaction == tid)
        // The next commit trims them first.
        let small = try storage.commit([.bytes(OID(2), nil, [0x80, 0x03, 0x4e, 0x2e])], metadata: TransactionMetadata())
        #expect(small.position == UInt64(bytes.count))
        let after = try directory.read("Data.fs")
        #expect(UInt64(after.count) == small.position + small.length + 8)
        storage.close()
        let again = try FileStorage(path: directory.path + "/Data.fs")
        defer { again.close() }
        #expect(again.warnings.isEmpty)
        #expect(again.lastTransaction == small.tid)
    }

    /// A real full disk: the Data.fs lives on a 1 MiB tmpfs mounted for the
    /// test (as root). Skipped when the mount is not possible, except with
    /// `CI=true`.
    @Test func aFullDiskFailsWithENOSPCAndKeepsTheStorage() throws {
        let directory = try TemporaryDirectory()
        let mountPoint = directory.path + "/small"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mounted = try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint])
        guard mounted.status == 0 else {
            if TestEnvironment.isCI { Issue.record("cannot mount a tmpfs: \(mounted.stderr)") }
            return
        }
        defer { _ = try? runCommand("/bin/umount", [mountPoint]) }
        let path = mountPoint + "/Data.fs"
        let storage = try FileStorage(path: path, readOnly: false, createIfMissing: true)
        defer { storage.close() }
        let root = try storage.commit([.bytes(.root, nil, Pickles.mapping("root"))], metadata: TransactionMetadata())
        let before = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))

        let payload = 2 << 20
        let spool = try spoolFile(directory, "spool", pseudoRandomBytes(payload, seed: 5))
        defer { try? spool.close() }
        for records in [Self.records(spool, count: payload), [.bytes(OID(2), nil, pseudoRandomBytes(payload, seed: 6))]] {
            let error = storageError { try storage.commit(records, metadata: TransactionMetadata()) }
            guard case .io(_, _, let code) = error else {
                Issue.record("expected ENOSPC, got \(String(describing: error))")
                continue
            }
            #expect(code == ENOSPC)
            #expect(error?.errno == ENOSPC)
            #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) == before)
            #expect(storage.size == UInt64(before.count))
            #expect(storage.lastTransaction == root.tid)
        }
        // Space was given back: a small commit works.
        let next = try storage.commit([.bytes(.root, root.tid, Pickles.mapping("root 2"))], metadata: TransactionMetadata())
        #expect(next.position == UInt64(before.count))
        storage.close()
        let again = try FileStorage(path: path)
        defer { again.close() }
        #expect(again.warnings.isEmpty)
        #expect(try again.load(.root).data == Pickles.mapping("root 2"))
        if PythonPeer.enabled {
            #expect(try PythonPeer.fstest(path).status == 0)
        }
    }
}
