import Foundation
import Storage
import TestSupport
import Testing
import ZODB

/// zodbfs's pack against ZODB's own `FileStorage.pack(t, referencesf)` on
/// copies of the same Python-built file at the same pack time
/// (`Scripts/peers/pack_reference.py`): the same objects with the same
/// current pickles, the same transactions and the same history after the
/// pack time (`loadBefore` of every object at every later tid), an index
/// ZODB accepts, and `fstest.py` passing.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["ZODBFS_PYTHON"] != nil || TestEnvironment.isCI))
struct PackCompatibilityTests {
    struct Packed {
        var python: String
        var ours: String
        var stop: String
        var result: PackResult
    }

    /// Copies `source` twice, packs one copy with Python and one with zodbfs at `time`.
    static func packBoth(
        _ source: String, time: Double, garbageCollect: Bool = true, reading: PackReading = .automatic, in scratch: ScratchDirectory
    ) throws -> Packed {
        let python = scratch.path("python.fs"), ours = scratch.path("ours.fs")
        try FileManager.default.copyItem(atPath: source, toPath: python)
        try FileManager.default.copyItem(atPath: source, toPath: ours)
        let packed = try runCommand(
            try TestEnvironment.python(),
            [TestEnvironment.script("peers/pack_reference.py"), "pack", python, String(time)] + (garbageCollect ? [] : ["--no-gc"]))
        #expect(packed.status == 0, "\(packed.stderr)")
        let stop = try #require(
            (try JSONSerialization.jsonObject(with: packed.stdoutData) as? [String: Any])?["stop"] as? String)

        let storage = try FileStorage(path: ours, readOnly: false)
        let result = try storage.pack(
            before: TID(timeIntervalSince1970: time), options: PackOptions(garbageCollect: garbageCollect, reading: reading))
        storage.close()
        #expect(TID(timeIntervalSince1970: time).description == stop)
        return Packed(python: python, ours: ours, stop: stop, result: result)
    }

    /// What ZODB reads from a packed file, as `pack_reference.py state` prints it.
    static func state(_ path: String, stop: String) throws -> String {
        let result = try runCommand(try TestEnvironment.python(), [TestEnvironment.script("peers/pack_reference.py"), "state", path, stop])
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout
    }

    static func expectSameAsPython(_ packed: Packed, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let python = try state(packed.python, stop: packed.stop)
        let ours = try state(packed.ours, stop: packed.stop)
        #expect(!python.isEmpty, sourceLocation: sourceLocation)
        #expect(ours == python, "ZODB reads something else from our packed file", sourceLocation: sourceLocation)
        let fstest = try runCommand(try TestEnvironment.python(), ["-m", "ZODB.scripts.fstest", packed.ours])
        #expect(fstest.status == 0, "fstest: \(fstest.stdout) \(fstest.stderr)", sourceLocation: sourceLocation)
        #expect(FileManager.default.fileExists(atPath: packed.ours + ".old") == packed.result.swapped, sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: packed.ours + ".pack"), sourceLocation: sourceLocation)
    }

    /// Every rule of the packer at once (`make_pack_store.py`): history,
    /// garbage, an undone creation, undos with backpointers before and after
    /// the pack time, objects made after it. The packed file is even
    /// byte-identical to Python's, and so is its index — whether the pack
    /// reads everything or skips the garbage.
    @Test(arguments: [PackReading.everything, .skippingGarbage])
    func packsTheRulesFixtureLikePython(reading: PackReading) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let source = scratch.path("source.fs")
        let made = try runCommand(
            try TestEnvironment.python(), [TestEnvironment.script("peers/make_pack_store.py"), source, "--objects", "3000"])
        #expect(made.status == 0, "\(made.stderr)")
        let time = try #require((try JSONSerialization.jsonObject(with: made.stdoutData) as? [String: Any])?["pack_time"] as? Double)
        try? FileManager.default.removeItem(atPath: source + ".index")

        let packed = try Self.packBoth(source, time: time, reading: reading, in: scratch)
        #expect(packed.result.swapped)
        #expect(packed.result.sizeAfter < packed.result.sizeBefore)
        #expect(packed.result.objectsRemoved > 0)
        try Self.expectSameAsPython(packed)
        #expect(FileManager.default.contents(atPath: packed.ours) == FileManager.default.contents(atPath: packed.python))
        #expect(FileManager.default.contents(atPath: packed.ours + ".index") == FileManager.default.contents(atPath: packed.python + ".index"))
    }

    /// The same fixture without garbage collection (ZODB's `pack_gc=False`):
    /// every revision current at the pack time stays, unreachable or not.
    /// Packed to now: with a pack time in its middle, Python's packer fails
    /// on this fixture ("Invalid backpointer transaction id": without the
    /// walk it drops the old revision a later undo points to), so the
    /// comparison is made where Python can pack at all, and the mid-history
    /// case is checked against ZODB's reading of our file.
    @Test func packsWithoutGarbageCollectionLikePython() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let source = scratch.path("source.fs")
        let made = try runCommand(
            try TestEnvironment.python(), [TestEnvironment.script("peers/make_pack_store.py"), source, "--objects", "500"])
        let time = try #require((try JSONSerialization.jsonObject(with: made.stdoutData) as? [String: Any])?["pack_time"] as? Double)
        let packed = try Self.packBoth(source, time: Date().timeIntervalSince1970, garbageCollect: false, in: scratch)
        #expect(packed.result.swapped)
        // Without the walk only objects whose current revision deletes them
        // go (the fixture has one: an undone creation), as in ZODB.
        #expect(packed.result.objectsAfter == packed.result.objectsBefore - 1)
        try Self.expectSameAsPython(packed)

        // Mid-history: every object and every later revision still loads.
        let middle = scratch.path("middle.fs")
        try FileManager.default.copyItem(atPath: source, toPath: middle)
        let before = try FileStorage(path: middle, readOnly: true)
        var expected: [OID: [UInt8]] = [:]
        for (oid, _) in before.indexSnapshot() { expected[oid] = try? before.load(oid).data }
        before.close()
        let storage = try FileStorage(path: middle, readOnly: false)
        #expect(try storage.pack(before: TID(timeIntervalSince1970: time), options: PackOptions(garbageCollect: false)).swapped)
        for (oid, data) in expected { #expect((try? storage.load(oid).data) == data, "oid \(oid)") }
        storage.close()
        let fstest = try runCommand(try TestEnvironment.python(), ["-m", "ZODB.scripts.fstest", middle])
        #expect(fstest.status == 0, "fstest: \(fstest.stdout) \(fstest.stderr)")
    }

    /// The Zope database (BTreeFolder2 with thousands of files, Pdata
    /// chains, replaced and deleted files) packed to now: the same state as
    /// Python's pack, and Zope reads every folder and file of it; both ways
    /// of reading give the same file.
    @Test(arguments: [PackReading.everything, .skippingGarbage])
    func packsTheZopeFixtureLikePython(reading: PackReading) throws {
        let fixture = try TestEnvironment.zopeFixture()
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let packed = try Self.packBoth(fixture.dataFS, time: Date().timeIntervalSince1970, reading: reading, in: scratch)
        #expect(packed.result.swapped)
        #expect(packed.result.objectsRemoved > 0, "the fixture has deleted files")
        try Self.expectSameAsPython(packed)
        let python = try StoreVerification(dataFS: packed.python)
        let ours = try StoreVerification(dataFS: packed.ours)
        #expect(ours.problems.isEmpty, "\(ours.problems)")
        #expect(ours.entries == python.entries)
        #expect(ours.entries.count > 5000)
    }

    /// A pack time before the first transaction keeps everything, and a
    /// second pack to the same time finds nothing to do (ZODB's
    /// `RedundantPackWarning`), leaving the file as it was.
    @Test(arguments: [PackReading.everything, .skippingGarbage])
    func packsToBeforeCreationAndRefusesARedundantPack(reading: PackReading) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let source = scratch.path("source.fs")
        let made = try runCommand(
            try TestEnvironment.python(), [TestEnvironment.script("peers/make_pack_store.py"), source, "--objects", "200"])
        let time = try #require((try JSONSerialization.jsonObject(with: made.stdoutData) as? [String: Any])?["pack_time"] as? Double)

        let early = try ScratchDirectory()
        defer { early.cleanUp() }
        let packed = try Self.packBoth(source, time: 1_000_000_000, reading: reading, in: early)
        try Self.expectSameAsPython(packed)

        let copy = scratch.path("twice.fs")
        try FileManager.default.copyItem(atPath: source, toPath: copy)
        let storage = try FileStorage(path: copy, readOnly: false)
        defer { storage.close() }
        let options = PackOptions(reading: reading)
        #expect(try storage.pack(before: TID(timeIntervalSince1970: time), options: options).swapped)
        let size = storage.size
        let again = try storage.pack(before: TID(timeIntervalSince1970: time), options: options)
        #expect(!again.swapped)
        #expect(again.note != nil)
        #expect(storage.size == size)
        #expect(!FileManager.default.fileExists(atPath: copy + ".pack"))
    }
}
