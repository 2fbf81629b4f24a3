import Foundation
import Storage
import Synchronization
import Testing
import TestSupport

/// Pack inside one process: commits go on during a pack and all survive, a
/// pickle pack cannot read or a damaged file stops it without a trace, and
/// positions read before the swap still read the right bytes. (Agreement
/// with ZODB's own pack is shown in ZODBTests/PackCompatibilityTests.)
@Suite struct PackTests {
    /// A reference finder for these tests: a record refers to the oids
    /// written in it as `->` and 16 hex digits (the pickles are mappings of
    /// text, so the marks survive in them).
    static let finder: ReferenceFinder = { pickle in
        // A mark may sit in the part a sample leaves out: ask for the whole.
        guard pickle.isComplete else { return nil }
        let text = String(decoding: pickle.head + pickle.tail, as: UTF8.self)
        var oids: [UInt64] = []
        var rest = text[...]
        while let mark = rest.range(of: "->") {
            let hex = rest[mark.upperBound...].prefix(16)
            if let oid = UInt64(hex, radix: 16) { oids.append(oid) }
            rest = rest[mark.upperBound...]
        }
        return oids
    }

    static func refs(_ oids: [OID]) -> String {
        oids.map { "->" + String(format: "%016llx", $0.rawValue) }.joined()
    }

    /// A storage whose root refers to `count` objects, each written
    /// `revisions` times, plus `garbage` objects nothing refers to.
    static func makeStore(_ path: String, count: Int = 100, revisions: Int = 3, garbage: Int = 50) throws -> FileStorage {
        let storage = try FileStorage(path: path, readOnly: false, createIfMissing: true)
        let oids = try storage.newOIDs(count + garbage)
        let live = Array(oids[..<count]), dead = Array(oids[count...])
        var serials: [OID: TID] = [:]
        var records = [PendingRecord.bytes(.root, nil, Pickles.mapping("root" + refs(live)))]
        for oid in live + dead { records.append(.bytes(oid, nil, Pickles.mapping("v0 \(oid)"))) }
        let first = try storage.commit(records, metadata: TransactionMetadata(description: "create"))
        for oid in live + dead { serials[oid] = first.tid }
        for revision in 1..<revisions {
            let result = try storage.commit(
                live.map { .bytes($0, serials[$0], Pickles.mapping("v\(revision) \($0)")) },
                metadata: TransactionMetadata(description: "revision \(revision)"))
            for oid in live { serials[oid] = result.tid }
        }
        return storage
    }

    @Test func commitsDuringAPackAllSurvive() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let path = scratch.path("Data.fs")
        let storage = try Self.makeStore(path, count: 300, revisions: 4, garbage: 200)
        defer { storage.close() }
        let stop = TID(timeIntervalSince1970: Date().timeIntervalSince1970 + 0.001).laterThan(storage.lastTransaction)
        Thread.sleep(forTimeInterval: 0.01)
        let sizeBefore = storage.size

        // A slow pack (the rate limit stretches it over about a second) and
        // commits on another thread all the while.
        let done = Atomic<Bool>(false)
        let packed = Guarded<Result<PackResult, StorageError>?>(nil)
        let thread = Thread {
            let result = Result { () throws(StorageError) in
                try storage.pack(before: stop, references: Self.finder,
                                 options: PackOptions(bytesPerSecond: Double(sizeBefore)))
            }
            packed.withLock { $0 = result }
            done.store(true, ordering: .releasing)
        }
        thread.start()
        var committed: [(oid: OID, tid: TID, data: [UInt8])] = []
        var serials: [OID: TID] = [:]
        var round = 0
        while !done.load(ordering: .acquiring) || round < 5 {
            let oid = try storage.newOIDs(1)[0]
            let data = Pickles.mapping("during pack \(round)")
            let result = try storage.commit([.bytes(oid, serials[oid], data)], metadata: TransactionMetadata(description: "during \(round)"))
            serials[oid] = result.tid
            committed.append((oid, result.tid, data))
            round += 1
            Thread.sleep(forTimeInterval: 0.005)
        }
        let result = try #require(packed.withLock { $0 }).get()
        #expect(result.swapped)
        #expect(result.transactionsDuringPack > 0, "the commits were meant to land while the pack ran")
        #expect(storage.generation == 1)
        #expect(result.objectsRemoved == 200)

        func expectEverything(in storage: FileStorage) throws {
            for (oid, tid, data) in committed {
                #expect(try storage.loadSerial(oid, serial: tid) == data)
                #expect(try storage.load(oid).data == data)
            }
            #expect(try storage.load(.root).data.count > 0)
        }
        try expectEverything(in: storage)
        // Commits go on after the swap, into the new file.
        let after = try storage.newOIDs(1)[0]
        _ = try storage.commit([.bytes(after, nil, Pickles.mapping("after"))], metadata: TransactionMetadata())
        #expect(try storage.load(after).data == Pickles.mapping("after"))
        storage.close()

        // From disk, with the saved index and without it.
        let reopened = try FileStorage(path: path, readOnly: true)
        #expect(reopened.usedIndexFile)
        try expectEverything(in: reopened)
        reopened.close()
        try FileManager.default.removeItem(atPath: path + ".index")
        let scanned = try FileStorage(path: path, readOnly: true)
        try expectEverything(in: scanned)
        #expect(scanned.warnings.isEmpty, "\(scanned.warnings)")
        scanned.close()
        if PythonPeer.enabled {
            let fstest = try PythonPeer.fstest(path)
            #expect(fstest.status == 0, "\(fstest.stdout) \(fstest.stderr)")
        }
    }

    @Test(arguments: [PackReading.everything, .skippingGarbage])
    func aPickleItCannotReadStopsThePackAndChangesNothing(reading: PackReading) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let path = scratch.path("Data.fs")
        let storage = try Self.makeStore(path)
        defer { storage.close() }
        let before = FileManager.default.contents(atPath: path)
        let failing: ReferenceFinder = { pickle in
            if String(decoding: pickle.head, as: UTF8.self).contains("v2") { throw StorageError.invalidTransaction(reason: "garbage") }
            return try Self.finder(pickle)
        }
        let stop = TID(timeIntervalSince1970: Date().timeIntervalSince1970 + 1)
        #expect {
            _ = try storage.pack(before: stop, references: failing, options: PackOptions(reading: reading))
        } throws: { error in
            guard case .corrupted(_, _, let reason)? = error as? StorageError else { return false }
            return reason.contains("cannot read the references")
        }
        #expect(FileManager.default.contents(atPath: path) == before)
        #expect(!FileManager.default.fileExists(atPath: path + ".pack"))
        #expect(!FileManager.default.fileExists(atPath: path + ".old"))
        // The storage goes on, and the next pack runs.
        _ = try storage.commit([.bytes(try storage.newOIDs(1)[0], nil, Pickles.mapping("x"))], metadata: TransactionMetadata())
        #expect(try storage.pack(before: stop, references: Self.finder).swapped)
    }

    @Test(arguments: [PackReading.everything, .skippingGarbage])
    func damageFoundByThePackChangesNothing(reading: PackReading) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let path = scratch.path("Data.fs")
        try Self.makeStore(path).close()
        // Damage the trailer of the first transaction. The open trusts the
        // saved index and checks only the end, so the pack is the first to look.
        let file = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try file.seek(toOffset: 4 + 8)
        let length = try file.read(upToCount: 8)!.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        try file.seek(toOffset: 4 + length)
        try file.write(contentsOf: [UInt8](repeating: 0xEE, count: 8))
        try file.close()
        let before = FileManager.default.contents(atPath: path)

        let storage = try FileStorage(path: path, readOnly: false)
        defer { storage.close() }
        #expect(storage.usedIndexFile)
        #expect {
            _ = try storage.pack(
                before: TID(timeIntervalSince1970: Date().timeIntervalSince1970 + 1), references: Self.finder,
                options: PackOptions(reading: reading))
        } throws: { error in
            guard case .corrupted(_, let offset, _)? = error as? StorageError else { return false }
            return offset == 4 + length
        }
        #expect(FileManager.default.contents(atPath: path) == before)
        #expect(!FileManager.default.fileExists(atPath: path + ".pack"))
    }

    /// A pack that lets go of the storage's index (the command line's) and
    /// closes: after a swap the index saved is the packed file's; after a
    /// pack that fails or has nothing to do, the saved index is left as it
    /// was, never replaced by the empty one the pack ran with.
    @Test(arguments: [PackReading.everything, .skippingGarbage])
    func packAndCloseLeavesAnIndexThatDescribesTheFile(reading: PackReading) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let path = scratch.path("Data.fs")
        try Self.makeStore(path).close()
        let options = PackOptions(reading: reading)

        // Nothing to do: everything is reachable and the pack time is before the last revisions.
        let index = FileManager.default.contents(atPath: path + ".index")
        let early = try FileStorage(path: path, readOnly: false)
        #expect(try early.packAndClose(before: TID(rawValue: 1), references: Self.finder, options: options).swapped == false)
        #expect(throws: StorageError.closed(path: path)) { _ = try early.load(.root) }
        #expect(FileManager.default.contents(atPath: path + ".index") == index)

        // A reference finder that fails: the pack stops, the index stays.
        let failing = try FileStorage(path: path, readOnly: false)
        #expect(throws: StorageError.self) {
            _ = try failing.packAndClose(
                before: TID(timeIntervalSince1970: Date().timeIntervalSince1970 + 1),
                references: { _ in throw StorageError.invalidTransaction(reason: "garbage") }, options: options)
        }
        #expect(FileManager.default.contents(atPath: path + ".index") == index)

        let storage = try FileStorage(path: path, readOnly: false)
        #expect(storage.objectCount == 151)
        let result = try storage.packAndClose(
            before: TID(timeIntervalSince1970: Date().timeIntervalSince1970 + 1), references: Self.finder, options: options)
        #expect(result.swapped && result.objectsAfter == 101)
        let reopened = try FileStorage(path: path, readOnly: true)
        defer { reopened.close() }
        #expect(reopened.usedIndexFile && reopened.objectCount == 101)
        #expect(try reopened.load(OID(1)).data == Pickles.mapping("v2 \(OID(1))"))
    }

    @Test func readOnlyAndSecondPacksAreRefused() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let path = scratch.path("Data.fs")
        let storage = try Self.makeStore(path, count: 200, revisions: 5)
        let stop = TID(timeIntervalSince1970: Date().timeIntervalSince1970 + 1)
        let started = Atomic<Bool>(false)
        let first = Thread {
            _ = try? storage.pack(before: stop, references: Self.finder, options: PackOptions(
                bytesPerSecond: Double(storage.size) / 2, progress: { _ in started.store(true, ordering: .releasing) }))
        }
        first.start()
        while !started.load(ordering: .acquiring) { Thread.sleep(forTimeInterval: 0.001) }
        #expect(throws: StorageError.packInProgress(path: path)) {
            _ = try storage.pack(before: stop, references: Self.finder)
        }
        #expect(StorageError.packInProgress(path: path).errno == EBUSY)
        while FileManager.default.fileExists(atPath: path + ".pack") || storage.generation == 0 {
            Thread.sleep(forTimeInterval: 0.01)
        }
        storage.close()

        let readOnly = try FileStorage(path: path, readOnly: true)
        defer { readOnly.close() }
        #expect(throws: StorageError.readOnly) { _ = try readOnly.pack(before: stop, references: Self.finder) }
    }

    /// A position read before a swap reads the old file's bytes; the old
    /// file closes at the next swap.
    @Test func positionsKeepTheirGenerationAcrossASwap() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let path = scratch.path("Data.fs")
        let storage = try Self.makeStore(path)
        defer { storage.close() }
        let oid = OID(1)
        let record = try storage.currentRecord(oid)
        let data = try storage.load(oid).data
        #expect(record.generation == 0)

        #expect(try storage.pack(before: TID(timeIntervalSince1970: Date().timeIntervalSince1970 + 1), references: Self.finder).swapped)
        #expect(storage.generation == 1)
        let moved = try storage.currentRecord(oid)
        #expect(moved.generation == 1)
        #expect(moved.pickleOffset != record.pickleOffset)
        #expect(try storage.read(at: record.pickleOffset, count: record.pickleLength, generation: 0) == data)
        #expect(try storage.read(at: moved.pickleOffset, count: moved.pickleLength, generation: 1) == data)
        #expect(storage.descriptor(ofGeneration: 0) != nil)

        _ = try storage.commit([.bytes(try storage.newOIDs(1)[0], nil, Pickles.mapping("more"))], metadata: TransactionMetadata())
        #expect(try storage.pack(before: TID(timeIntervalSince1970: Date().timeIntervalSince1970 + 2), references: Self.finder).swapped)
        #expect(storage.descriptor(ofGeneration: 0) == nil)
        #expect(throws: StorageError.self) { _ = try storage.read(at: record.pickleOffset, count: 1, generation: 0) }
        #expect(try storage.load(oid).data == data)
    }

    /// Progress reports each phase in order, with bytes that add up.
    @Test func progressGoesThroughThePhases() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let storage = try Self.makeStore(scratch.path("Data.fs"))
        defer { storage.close() }
        let seen = Guarded<[PackProgress]>([])
        let options = PackOptions(progress: { p in seen.withLock { $0.append(p) } })
        _ = try storage.pack(before: TID(timeIntervalSince1970: Date().timeIntervalSince1970 + 1), references: Self.finder, options: options)
        let phases = seen.withLock { $0 }.map(\.phase)
        var order: [PackProgress.Phase] = []
        for phase in phases where order.last != phase { order.append(phase) }
        #expect(order == [.indexing, .marking, .copying, .copyingRecent, .swapping])
        for p in seen.withLock({ $0 }) { #expect(p.bytesDone <= p.bytesTotal) }
    }
}
