import Foundation
import Storage
import Testing
import TestSupport

/// Backup and restore against the real `repozo` (ZODB/scripts/repozo.py of
/// the pinned venv): each restores what the other wrote, byte for byte,
/// and each verifies what the other wrote.
@Suite("repozo repositories", .serialized)
struct RepozoCompatibilityTests {
    @Test("a repository zodbfs writes restores with repozo -R and -D, passes repozo -V and fstest", arguments: [false, true])
    func oursRestoreWithRepozo(gzip: Bool) throws {
        let store = try BackupTestStore()
        defer { store.remove() }
        let repository = try store.repository()
        let start = BackupTestStore.past()
        var versions: [[UInt8]] = []
        var stamps: [String] = []
        // A full backup and three increments; between them, commits by Zope
        // (text, and 3 MiB of random bytes that gzip stores) and by our storage.
        for round in 0..<4 {
            switch round {
            case 1: try store.appendWithZope("added-1.txt")
            case 2: try store.appendWithFileStorage("committed by zodbfs")
            case 3: try store.appendWithZope("random.bin", randomBytes: 3 << 20)
            default: break
            }
            let result = try store.backup(into: repository, gzip: gzip, at: start + Double(round))
            #expect(result.kind == (round == 0 ? .full : .incremental), "\(result)")
            versions.append(try store.bytes())
            stamps.append(RepositoryFile.stamp(for: start + Double(round)))
        }
        let kinds = try repository.files().map(\.kind)
        #expect(kinds.filter(\.isData).count == 4 && kinds.filter { $0 == .index }.count == 4 && kinds.filter { $0 == .dat }.count == 1)
        #expect(kinds.filter(\.isData).allSatisfy { $0.isGzip == gzip })

        let verified = try BackupTestStore.repozo(["-V", "-v", "-r", repository.path])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        #expect(try BackupTestStore.repozo(["-V", "-Q", "-r", repository.path]).status == 0)
        #expect(try repository.verify() == [])

        let restored = store.scratch.path("restored.fs")
        let all = try BackupTestStore.repozo(["-R", "-w", "-r", repository.path, "-o", restored])
        #expect(all.status == 0, "\(all.stderr)")
        #expect(try BackupTestStore.bytes(restored) == versions[3])
        #expect(try BackupTestStore.fstest(restored).status == 0)
        // repozo copied our .index beside it, and ZODB uses it.
        let used = try runCommand(try TestEnvironment.python(), [
            "-c", "import sys; from ZODB.FileStorage import FileStorage as F; s = F(sys.argv[1], read_only=True); "
                + "print(s._used_index, s.getSize()); s.close()", restored,
        ])
        #expect(used.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1 \(versions[3].count)", "\(used.stdout) \(used.stderr)")

        for middle in [1, 2] {
            let path = store.scratch.path("middle-\(middle).fs")
            let result = try BackupTestStore.repozo(["-R", "-r", repository.path, "-D", stamps[middle], "-o", path])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try BackupTestStore.bytes(path) == versions[middle])
            #expect(try BackupTestStore.fstest(path).status == 0)
        }
        let report = try StoreVerification(dataFS: store.scratch.path("middle-1.fs"))
        #expect(report.problems == [])
        #expect(report["docs/added-1.txt"] != nil)

        // Nothing new: nothing written, checked or quick, whether an
        // increment or repozo's choice was asked for.
        for mode in [BackupMode.auto, .incremental] {
            #expect(try store.backup(into: repository, mode, gzip: gzip, at: start + 10).kind == .nothing)
            #expect(try store.backup(into: repository, mode, quick: true, gzip: gzip, at: start + 11).kind == .nothing)
        }
        #expect(try repository.files().count == kinds.count)
    }

    @Test("a repository repozo writes restores with zodbfs byte for byte, which installs its index", arguments: [false, true])
    func repozosRestoreWithUs(gzip: Bool) throws {
        let store = try BackupTestStore()
        defer { store.remove() }
        let repository = try store.repository()
        var versions: [[UInt8]] = []
        for round in 0..<4 {
            if round > 0 {
                if round == 2 {
                    try store.appendWithZope("python-random.bin", randomBytes: 1 << 20)
                } else {
                    try store.appendWithZope("python-\(round).txt")
                }
                Thread.sleep(forTimeInterval: 1.05)   // repozo names files by the second
            }
            let result = try BackupTestStore.repozo(["-B", "-r", repository.path, "-f", store.path] + (gzip ? ["-z"] : []))
            #expect(result.status == 0, "\(result.stderr)")
            versions.append(try store.bytes())
        }
        #expect(try repository.verify() == [])
        #expect(try repository.verify(quick: true) == [])
        let restored = store.scratch.path("restored.fs")
        let result = try repository.restore(upTo: nil, output: restored)
        #expect(result.files.count == 4)
        #expect(result.index == restored + ".index", "\(result.indexNote ?? "")")
        #expect(try BackupTestStore.bytes(restored) == versions[3])
        // The installed index is the backup's: the restored store opens without a scan.
        let reopened = try FileStorage(path: restored)
        #expect(reopened.usedIndexFile)
        #expect(reopened.size == UInt64(versions[3].count))
        reopened.close()
        // To the time of each backup.
        let data = try repository.files().filter(\.kind.isData)
        for (number, file) in data.enumerated() {
            let early = store.scratch.path("early-\(number).fs")
            try repository.restore(upTo: file.stamp, output: early)
            #expect(try BackupTestStore.bytes(early) == versions[number])
        }
        // And we add to it: repozo restores the increment we wrote after its backups.
        try store.appendWithFileStorage("after repozo")
        let ours = try store.backup(into: repository, gzip: gzip, at: Date().timeIntervalSince1970)
        #expect(ours.kind == .incremental)
        Thread.sleep(forTimeInterval: 1.05)
        let again = store.scratch.path("again.fs")
        #expect(try BackupTestStore.repozo(["-R", "-r", repository.path, "-o", again]).status == 0)
        #expect(try BackupTestStore.bytes(again) == (try store.bytes()))
    }

    @Test("a restore that zodbfs verifies as it goes equals repozo's, and the store opens from the installed index")
    func restoredStoreOpensFromItsIndex() throws {
        let store = try BackupTestStore()
        defer { store.remove() }
        let repository = try store.repository()
        let start = BackupTestStore.past()
        try store.backup(into: repository, at: start)
        try store.appendWithZope("one.txt")
        try store.backup(into: repository, at: start + 1)
        let output = store.scratch.path("out/Data.fs")
        try FileManager.default.createDirectory(atPath: store.scratch.path("out"), withIntermediateDirectories: true)
        // An older file and index at the output are replaced only at the end.
        try Data("old".utf8).write(to: URL(fileURLWithPath: output))
        try Data("stale".utf8).write(to: URL(fileURLWithPath: output + ".index"))
        var phases: Set<String> = []
        var last = BackupProgress(phase: "", done: 0, total: 0)
        let result = try repository.restore(upTo: nil, output: output) { progress in
            phases.insert(progress.phase)
            last = progress
        }
        #expect(result.size == UInt64(try store.bytes().count))
        #expect(last.done == last.total && last.total == result.size)
        #expect(phases.count == 2, "one phase per backup file: \(phases)")
        #expect(try BackupTestStore.bytes(output) == (try store.bytes()))
        let reopened = try FileStorage(path: output)
        #expect(reopened.usedIndexFile)
        reopened.close()
        #expect(!FileManager.default.fileExists(atPath: output + ".part"))
    }

    @Test("backups within one second get distinct, increasing stamps")
    func backupsInOneSecond() throws {
        let store = try BackupTestStore()
        defer { store.remove() }
        let repository = try store.repository()
        let now = BackupTestStore.past(100)
        #expect(try store.backup(into: repository, .full, at: now).kind == .full)
        try store.appendWithZope("same-second.txt")
        #expect(try store.backup(into: repository, at: now).kind == .incremental)
        #expect(Set(try repository.files().map(\.stamp)).count == 2)
        #expect(try repository.files().filter { $0.kind == .index }.count == 2)
        let restored = store.scratch.path("restored.fs")
        #expect(try BackupTestStore.repozo(["-R", "-r", repository.path, "-o", restored]).status == 0)
        #expect(try BackupTestStore.bytes(restored) == (try store.bytes()))
        try repository.restore(upTo: nil, output: restored)
        #expect(try BackupTestStore.bytes(restored) == (try store.bytes()))
        // A backup stamped well after now means the clock went back.
        try store.appendWithZope("later.txt")
        #expect(throws: BackupError.clockBehind(newest: RepositoryFile.stamp(for: now + 1), now: RepositoryFile.stamp(for: now - 60))) {
            try store.backup(into: repository, at: now - 60)
        }
    }
}
