import Foundation
import Storage
import Testing
import TestSupport

/// Which backup gets written (repozo's `do_backup`): an increment while the
/// store continues the repository, a new full backup once it was packed,
/// truncated or replaced, nothing when nothing changed — checked and
/// `--quick` alike — and the modes and locks around it.
@Suite("backup decisions", .serialized)
struct BackupDecisionTests {
    /// Packs the store with ZODB's own `FileStorage.pack` as of now.
    static func packWithZODB(_ path: String) throws {
        let result = try runCommand(try TestEnvironment.python(), [
            TestEnvironment.script("peers/pack_reference.py"), "pack", path, String(Date().timeIntervalSince1970),
        ])
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test("a store packed by ZODB gets a new full backup, which restores with repozo", arguments: [false, true])
    func packedStoreGetsAFullBackup(quick: Bool) throws {
        let store = try BackupTestStore()
        defer { store.remove() }
        let repository = try store.repository()
        let start = BackupTestStore.past()
        try store.appendWithZope("one.txt")
        try store.appendWithZope("one.txt-replaced")
        #expect(try store.backup(into: repository, at: start).kind == .full)
        try store.appendWithZope("two.txt")
        #expect(try store.backup(into: repository, quick: quick, at: start + 1).kind == .incremental)
        let before = try store.bytes().count
        try Self.packWithZODB(store.path)
        try store.appendWithZope("three.txt")
        #expect(try store.bytes().count != before)

        // An increment is refused, auto makes a full backup and says why.
        #expect(throws: BackupError.self) { try store.backup(into: repository, .incremental, quick: quick, at: start + 2) }
        let result = try store.backup(into: repository, quick: quick, at: start + 3)
        #expect(result.kind == .full && result.start == 0, "\(result)")
        #expect(result.reason.contains("packed"), "\(result.reason)")
        #expect(try store.backup(into: repository, quick: quick, at: start + 4).kind == .nothing)
        try store.appendWithZope("four.txt")
        #expect(try store.backup(into: repository, quick: quick, at: start + 5).kind == .incremental)
        let restored = store.scratch.path("restored.fs")
        #expect(try BackupTestStore.repozo(["-R", "-r", repository.path, "-o", restored]).status == 0)
        #expect(try BackupTestStore.bytes(restored) == (try store.bytes()))
        #expect(try repository.chain().links.count == 2)
    }

    @Test("a truncated store, and one replaced by another of the same length, get a full backup", arguments: [false, true])
    func truncatedOrReplacedStoreGetsAFullBackup(quick: Bool) throws {
        let store = try BackupTestStore()
        defer { store.remove() }
        let repository = try store.repository()
        let start = BackupTestStore.past()
        let original = try store.bytes()
        try store.appendWithZope("one.txt")
        let longer = try store.bytes()
        #expect(try store.backup(into: repository, at: start).kind == .full)
        // Back to the shorter file (a restore of an older backup, say).
        try Data(original).write(to: URL(fileURLWithPath: store.path))
        try? FileManager.default.removeItem(atPath: store.path + ".index")
        var result = try store.backup(into: repository, quick: quick, at: start + 1)
        #expect(result.kind == .full && result.reason.contains("shorter"), "\(result)")
        // A different transaction at the same place: the bytes differ, not the length.
        try store.appendWithZope("two.txt")
        #expect(try store.bytes() != longer)
        result = try store.backup(into: repository, quick: quick, at: start + 2)
        #expect(result.kind == .incremental)
        try Data(longer).write(to: URL(fileURLWithPath: store.path))
        try? FileManager.default.removeItem(atPath: store.path + ".index")
        result = try store.backup(into: repository, quick: quick, at: start + 3)
        #expect(result.kind == .full, "\(result)")
        let restored = store.scratch.path("restored.fs")
        try repository.restore(upTo: nil, output: restored)
        #expect(try BackupTestStore.bytes(restored) == longer)
    }

    @Test func theModes() throws {
        let store = try BackupTestStore()
        defer { store.remove() }
        let repository = try store.repository()
        let start = BackupTestStore.past()
        // An empty repository takes no increment.
        #expect(throws: BackupError.fullBackupNeeded(reason: "the repository has no full backup yet")) {
            try store.backup(into: repository, .incremental, at: start)
        }
        #expect(try repository.files().isEmpty)
        #expect(try store.backup(into: repository, .auto, at: start).kind == .full)
        // full is always full, even with nothing new.
        #expect(try store.backup(into: repository, .full, gzip: true, at: start + 1).kind == .full)
        #expect(try store.backup(into: repository, .incremental, at: start + 2).kind == .nothing)
        try store.appendWithFileStorage("x")
        let increment = try store.backup(into: repository, .incremental, gzip: true, at: start + 3)
        #expect(increment.kind == .incremental && increment.file?.hasSuffix(".deltafsz") == true)
        // The increment belongs to the newest full backup's chain.
        #expect(try repository.chain().links.map(\.file.kind) == [.fullGzip, .incrementalGzip])
        #expect(try repository.datEntries(of: try repository.chain().full.file).count == 2)
    }

    @Test func aDamagedChainGetsAFullBackupOrRefusesAnIncrement() throws {
        let store = try BackupTestStore()
        defer { store.remove() }
        let repository = try store.repository()
        let start = BackupTestStore.past()
        try store.backup(into: repository, at: start)
        try store.appendWithZope("one.txt")
        let increment = try #require(try store.backup(into: repository, at: start + 1).file)
        try FileManager.default.removeItem(atPath: increment)
        try store.appendWithZope("two.txt")
        #expect(throws: BackupError.self) { try store.backup(into: repository, .incremental, at: start + 2) }
        let result = try store.backup(into: repository, at: start + 3)
        #expect(result.kind == .full && result.reason.contains("damaged"), "\(result)")
        // A truncated backup file is noticed from its size alone.
        try store.appendWithZope("three.txt")
        let next = try #require(try store.backup(into: repository, at: start + 4).file)
        let handle = try #require(FileHandle(forWritingAtPath: next))
        try handle.truncate(atOffset: 10)
        try handle.close()
        try store.appendWithZope("four.txt")
        #expect(try store.backup(into: repository, quick: true, at: start + 5).kind == .full)
    }

    @Test func oneBackupAtATimePerRepository() throws {
        let store = try BackupTestStore()
        defer { store.remove() }
        let repository = try store.repository()
        let storage = try FileStorage(path: store.path)
        defer { storage.close() }
        // Another backup holds the repository's lock.
        let holder = try FileDescriptorLock(repository.path)
        #expect(throws: BackupError.busy(repository: repository.path)) {
            try repository.backup(storage, mode: .full, now: BackupTestStore.past())
        }
        holder.release()
        #expect(try repository.backup(storage, mode: .full, now: BackupTestStore.past()).kind == .full)
        #expect(!FileManager.default.fileExists(atPath: repository.path + "/tmp.tmp"))
    }

    @Test("progress reaches the total of each phase, and a backup's index is the store's at its end")
    func progressAndIndex() throws {
        let store = try BackupTestStore()
        defer { store.remove() }
        let repository = try store.repository()
        let storage = try FileStorage(path: store.path)
        defer { storage.close() }
        var reports: [BackupProgress] = []
        let result = try repository.backup(storage, mode: .auto, gzip: true, now: BackupTestStore.past()) { reports.append($0) }
        let copying = reports.filter { $0.phase.hasPrefix("copying") }
        #expect(copying.last?.done == storage.size && copying.last?.total == storage.size)
        #expect(zip(copying, copying.dropFirst()).allSatisfy { $0.done <= $1.done })
        let file = try #require(result.file.flatMap { RepositoryFile(name: String($0.split(separator: "/").last!)) })
        let (position, index) = try IndexFile.load(path: repository.path(of: file.with(.index)))
        #expect(position == storage.size && index.count == storage.objectCount)
    }
}

/// Holds an exclusive `flock` on a folder, as a running backup does. The
/// descriptor is close-on-exec, as the backup's is: a process another test
/// starts meanwhile would otherwise inherit it, and the lock with it.
final class FileDescriptorLock {
    private let descriptor: Int32
    init(_ path: String) throws {
        descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0, flock(descriptor, LOCK_EX | LOCK_NB) == 0 else { throw TestEnvironment.Missing(description: "lock \(path)") }
    }
    func release() { close(descriptor) }
}
