import Foundation
import Storage
import Testing
import TestSupport

/// Backup and restore against the real `repozo` (ZODB/scripts/repozo.py from
/// the pinned venv): each restores what the other wrote, byte for byte.
@Suite("repozo repositories", .serialized)
struct RepozoCompatibilityTests {
    /// A copy of the fixture store, appended to by Python between backups.
    struct Store {
        let scratch: ScratchDirectory
        let path: String

        init() throws {
            let fixture = try TestEnvironment.zopeFixture()
            scratch = try ScratchDirectory("zodbfs-backup")
            path = scratch.path("Data.fs")
            try FileManager.default.copyItem(atPath: fixture.dataFS, toPath: path)
            try FileManager.default.copyItem(atPath: fixture.index, toPath: path + ".index")
        }

        /// One more transaction, committed by ZODB and Zope.
        func append(_ name: String) throws {
            let result = try runCommand(try TestEnvironment.python(), [
                TestEnvironment.script("fixtures/append_file.py"), path, "docs", name, String(repeating: name, count: 500),
            ])
            #expect(result.status == 0, "\(result.stderr)")
        }

        /// The store's bytes now, kept as `name`.
        func snapshot(_ name: String) throws -> [UInt8] {
            Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        }

        func repository(_ name: String) throws -> BackupRepository {
            let directory = scratch.path(name)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            return BackupRepository(path: directory)
        }
    }

    static func repozo(_ arguments: [String]) throws -> CommandResult {
        try runCommand(try TestEnvironment.python(), ["-m", "ZODB.scripts.repozo"] + arguments)
    }

    static func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    @Test("a repository zodbfs writes restores with repozo -R and -D, and passes repozo -V", arguments: [false, true])
    func oursRestoreWithRepozo(gzip: Bool) throws {
        let store = try Store()
        defer { store.scratch.cleanUp() }
        let repository = try store.repository("repo")
        var versions: [[UInt8]] = []
        var stamps: [String] = []
        // In the past: repozo ignores backups stamped later than now.
        let start = (Date().timeIntervalSince1970 - 100).rounded(.down)
        for round in 0..<4 {
            if round > 0 { try store.append("added-\(round).txt") }
            let storage = try FileStorage(path: store.path)
            let result = try repository.backup(storage, mode: .auto, gzip: gzip, now: start + Double(round))
            storage.close()
            #expect(result.kind == (round == 0 ? .full : .incremental))
            versions.append(try store.snapshot("v\(round)"))
            stamps.append(RepositoryFile.stamp(for: start + Double(round)))
        }
        let verified = try Self.repozo(["-V", "-r", repository.path])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        let restored = store.scratch.path("restored.fs")
        #expect(try Self.repozo(["-R", "-r", repository.path, "-o", restored]).status == 0)
        #expect(try Self.bytes(restored) == versions[3])
        let middle = store.scratch.path("middle.fs")
        #expect(try Self.repozo(["-R", "-r", repository.path, "-D", stamps[1], "-o", middle]).status == 0)
        #expect(try Self.bytes(middle) == versions[1])
        let fstest = try runCommand(try TestEnvironment.python(), ["-m", "ZODB.scripts.fstest", restored])
        #expect(fstest.status == 0, "\(fstest.stdout)")
        // Nothing new: nothing written.
        let storage = try FileStorage(path: store.path)
        #expect(try repository.backup(storage, mode: .incremental, gzip: gzip, now: start + 10).kind == .nothing)
        #expect(try repository.backup(storage, mode: .incremental, quick: true, gzip: gzip, now: start + 11).kind == .nothing)
        storage.close()
    }

    @Test("a repository repozo writes restores with zodbfs, which installs its index", arguments: [false, true])
    func repozosRestoreWithUs(gzip: Bool) throws {
        let store = try Store()
        defer { store.scratch.cleanUp() }
        let repository = try store.repository("repo")
        var versions: [[UInt8]] = []
        for round in 0..<3 {
            if round > 0 {
                try store.append("python-\(round).txt")
                Thread.sleep(forTimeInterval: 1.05)   // repozo names files by the second
            }
            let result = try Self.repozo(["-B", "-r", repository.path, "-f", store.path] + (gzip ? ["-z"] : []))
            #expect(result.status == 0, "\(result.stderr)")
            versions.append(try store.snapshot("v\(round)"))
        }
        #expect(try repository.verify() == [])
        let restored = store.scratch.path("restored.fs")
        try repository.restore(upTo: nil, output: restored)
        #expect(try Self.bytes(restored) == versions[2])
        // The installed index is the backup's: the restored store opens without a scan.
        let reopened = try FileStorage(path: restored)
        #expect(reopened.usedIndexFile)
        #expect(reopened.size == UInt64(versions[2].count))
        reopened.close()
        let first = try repository.files().first { $0.kind.isFull }!
        let early = store.scratch.path("early.fs")
        try repository.restore(upTo: first.stamp, output: early)
        #expect(try Self.bytes(early) == versions[0])
    }

    @Test("a damaged or missing increment is refused, naming the file, and nothing is left at the output")
    func damageIsRefused() throws {
        let store = try Store()
        defer { store.scratch.cleanUp() }
        let repository = try store.repository("repo")
        for round in 0..<3 {
            if round > 0 { try store.append("more-\(round).txt") }
            let storage = try FileStorage(path: store.path)
            _ = try repository.backup(storage, mode: .auto, now: 1_800_000_000 + Double(round))
            storage.close()
        }
        let deltas = try repository.files().filter { $0.kind == .incremental }
        let output = store.scratch.path("out.fs")

        // One byte changed in the first increment.
        let damaged = repository.path(of: deltas[0])
        var bytes = try Self.bytes(damaged)
        bytes[bytes.count / 2] ^= 0xFF
        let original = try Self.bytes(damaged)
        try Data(bytes).write(to: URL(fileURLWithPath: damaged))
        #expect(throws: BackupError.self) { try repository.restore(upTo: nil, output: output) }
        do {
            try repository.restore(upTo: nil, output: output)
        } catch {
            guard case .checksumMismatch(let path, _, _) = error else { Issue.record("\(error)"); return }
            #expect(path == damaged)
        }
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(!FileManager.default.fileExists(atPath: output + ".part"))
        #expect(try repository.verify().count == 1)
        #expect(try Self.repozo(["-V", "-r", repository.path]).status != 0, "repozo agrees")

        // The first increment missing: the second no longer follows the full backup.
        try Data(original).write(to: URL(fileURLWithPath: damaged))
        try FileManager.default.removeItem(atPath: damaged)
        do {
            try repository.restore(upTo: nil, output: output)
            Issue.record("a restore with a missing increment succeeded")
        } catch {
            guard case .gap(let path, _, _) = error else { Issue.record("\(error)"); return }
            #expect(path == repository.path(of: deltas[1]))
        }
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test("a store that is no longer a continuation of the repository (packed, replaced) gets a full backup")
    func packedStoreGetsAFullBackup() throws {
        let store = try Store()
        defer { store.scratch.cleanUp() }
        let repository = try store.repository("repo")
        let before = try store.snapshot("before")
        try store.append("one.txt")
        var storage = try FileStorage(path: store.path)
        #expect(try repository.backup(storage, mode: .auto, now: 1_800_000_000).kind == .full)
        storage.close()
        // Back to the earlier file plus a different transaction: the repository is no prefix of it.
        try Data(before).write(to: URL(fileURLWithPath: store.path))
        try? FileManager.default.removeItem(atPath: store.path + ".index")
        try store.append("two.txt")
        storage = try FileStorage(path: store.path)
        // --quick notices it too (the store's bytes at the end of the last backup differ).
        #expect(try repository.backup(storage, mode: .auto, quick: true, now: 1_800_000_001).kind == .full)
        #expect(try repository.backup(storage, mode: .auto, quick: true, now: 1_800_000_002).kind == .nothing)
        #expect(try repository.backup(storage, mode: .auto, now: 1_800_000_003).kind == .nothing)
        storage.close()
        let restored = store.scratch.path("restored.fs")
        try repository.restore(upTo: nil, output: restored)
        #expect(try Self.bytes(restored) == (try store.snapshot("now")))
    }
}

extension RepozoCompatibilityTests {
    @Test("backups within one second get distinct, increasing stamps")
    func backupsInOneSecond() throws {
        let store = try Store()
        defer { store.scratch.cleanUp() }
        let repository = try store.repository("repo")
        let now = (Date().timeIntervalSince1970 - 100).rounded(.down)
        var storage = try FileStorage(path: store.path)
        #expect(try repository.backup(storage, mode: .full, now: now).kind == .full)
        storage.close()
        try store.append("same-second.txt")
        storage = try FileStorage(path: store.path)
        #expect(try repository.backup(storage, mode: .auto, now: now).kind == .incremental)
        storage.close()
        #expect(Set(try repository.files().map(\.stamp)).count == 2)
        #expect(try repository.files().filter { $0.kind == .index }.count == 2)
        let restored = store.scratch.path("restored.fs")
        #expect(try Self.repozo(["-R", "-r", repository.path, "-o", restored]).status == 0)
        #expect(try Self.bytes(restored) == (try store.snapshot("now")))
        try repository.restore(upTo: nil, output: restored)
        #expect(try Self.bytes(restored) == (try store.snapshot("now")))
    }
}
