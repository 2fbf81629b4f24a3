import Foundation
import Storage
import Testing

/// `poll()`: following a storage another process appends to.
@Suite struct FollowTests {
    typealias Layout = Samples.SmallLayout

    @Test func picksUpAppendedTransactions() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("Data.fs", Array(Samples.small[..<166]))
        let storage = try FileStorage(path: path)
        defer { storage.close() }
        #expect(try storage.poll().isEmpty)
        #expect(storageError { try storage.load(OID(1)) } == .objectNotFound(OID(1)))

        try directory.append("Data.fs", Array(Samples.small[166...]))
        let found = try storage.poll()
        #expect(found.map(\.position) == [166, 508, 691])
        #expect(found.map(\.tid) == Array(Layout.tids[1...]))
        #expect(found.map(\.oids) == [[.root, OID(1)], [OID(1)], [OID(1)]])
        #expect(found[0].user == Array("alice".utf8))
        #expect(storage.size == 783)
        #expect(storage.lastTransaction == Layout.tids[3])
        #expect(try storage.load(OID(1)).tid == Layout.tids[3])
        #expect(storage.indexSnapshot().dictionary == [.root: 226, OID(1): 725])
        #expect(storage.warnings.isEmpty)
        #expect(try storage.poll().isEmpty)
    }

    @Test func aTransactionBeingWrittenWaitsForTheNextPoll() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("Data.fs", Array(Samples.small[..<691]))
        let storage = try FileStorage(path: path)
        defer { storage.close() }
        for cut in [691 + 10, 691 + 23, 691 + 60, 782] {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try handle.truncate(atOffset: 691)
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(Samples.small[691..<cut]))
            try handle.close()
            #expect(try storage.poll().isEmpty, "cut at \(cut)")
            #expect(storage.size == 691)
        }
        try directory.overwrite("Data.fs", Samples.small)
        #expect(try storage.poll().map(\.tid) == [Layout.tids[3]])
    }

    @Test func aCheckpointWaitsUntilFinished() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("Data.fs", Array(Samples.small[..<691]))
        let storage = try FileStorage(path: path)
        defer { storage.close() }
        var voted = Array(Samples.small[691...])
        voted[16] = TransactionStatus.checkpoint
        try directory.append("Data.fs", voted)
        #expect(try storage.poll().isEmpty)
        #expect(storage.size == 691)

        // tpc_finish: one byte at txnpos + 16.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seek(toOffset: 691 + 16)
        try handle.write(contentsOf: Data([TransactionStatus.committed]))
        try handle.close()
        #expect(try storage.poll().map(\.position) == [691])
        #expect(storage.size == 783)
    }

    @Test func aReplacedFileIsReported() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("Data.fs", Samples.small)
        let storage = try FileStorage(path: path)
        defer { storage.close() }
        // A pack writes Data.fs.pack and renames it over Data.fs.
        let packed = try directory.write("Data.fs.pack", Samples.small)
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: packed, toPath: path)
        let error = storageError { try storage.poll() }
        #expect(error?.errno == 116)  // ESTALE
        #expect(error.map { if case .fileReplaced = $0 { true } else { false } } == true)
        // The open descriptor still reads the old file.
        #expect(try storage.load(OID(1)).tid == Layout.tids[3])

        try FileManager.default.removeItem(atPath: path)
        #expect(storageError { try storage.poll() }?.errno == 116)
    }

    @Test func aShrunkOrRewrittenFileIsReported() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("Data.fs", Samples.small)
        let storage = try FileStorage(path: path)
        defer { storage.close() }

        var changed = Samples.small
        changed[691 + 7] ^= 0xff  // the last transaction's tid
        try directory.overwrite("Data.fs", changed)
        #expect(storageError { try storage.poll() }?.errno == 116)

        try directory.overwrite("Data.fs", Array(Samples.small[..<700]))
        let error = storageError { try storage.poll() }
        #expect(error?.reason?.contains("shrank") == true)
    }

    @Test func damageInWhatWasAppendedIsReported() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("Data.fs", Array(Samples.small[..<508]))
        let storage = try FileStorage(path: path)
        defer { storage.close() }
        var rest = Array(Samples.small[508...])
        rest[182] ^= 1  // the trailer of the transaction at 508, at 683 ..< 691
        try directory.append("Data.fs", rest)
        #expect(storageError { try storage.poll() }?.corruptionOffset == 683)
        #expect(storage.size == 508)
    }

    /// Readers on many threads while transactions are appended and polled:
    /// every load sees a complete revision, old or new.
    @Test func loadsRunWhilePolling() async throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("Data.fs", Array(Samples.small[..<508]))
        let storage = try FileStorage(path: path)
        defer { storage.close() }
        let created = Array(Samples.small[401..<500])
        let modified = Array(Samples.small[581..<683])
        let appender = Task.detached {
            for (from, to) in [(508, 600), (600, 691), (691, 783)] {
                try directory.append("Data.fs", Array(Samples.small[from..<to]))
                _ = try storage.poll()
                try await Task.sleep(nanoseconds: 2_000_000)
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<2000 {
                        let (data, tid) = try storage.load(OID(1))
                        #expect((data == created && (tid == Layout.tids[1] || tid == Layout.tids[3])) || (data == modified && tid == Layout.tids[2]))
                        _ = try storage.read(at: 0, count: 4)
                    }
                }
            }
            try await group.waitForAll()
        }
        try await appender.value
        #expect(storage.size == 783)
    }
}
