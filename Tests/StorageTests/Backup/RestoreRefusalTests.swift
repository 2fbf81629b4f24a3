import Foundation
import Storage
import Testing
import TestSupport

/// A damaged repository is refused before the output is touched: the error
/// names the file, and whatever was at the output stays as it was.
@Suite("restore refuses damage", .serialized)
struct RestoreRefusalTests {
    /// A full backup and three increments (the middle one gzip).
    static func repositoryWithIncrements() throws -> (BackupTestStore, BackupRepository, [RepositoryFile]) {
        let store = try BackupTestStore()
        let repository = try store.repository()
        let start = BackupTestStore.past()
        for round in 0..<4 {
            if round > 0 { try store.appendWithZope("more-\(round).txt") }
            try store.backup(into: repository, gzip: round == 2, at: start + Double(round))
        }
        return (store, repository, try repository.files().filter(\.kind.isData))
    }

    /// Runs a restore that must fail and returns its error; the output must not appear.
    static func refusal(_ repository: BackupRepository, _ output: String, upTo stamp: String? = nil) -> BackupError? {
        defer {
            #expect(!FileManager.default.fileExists(atPath: output), "no output after a refused restore")
            #expect(!FileManager.default.fileExists(atPath: output + ".part"))
            #expect(!FileManager.default.fileExists(atPath: output + ".index"))
        }
        do {
            try repository.restore(upTo: stamp, output: output)
            Issue.record("the restore succeeded")
            return nil
        } catch {
            return error
        }
    }

    static func flipByte(_ path: String, at offset: Int? = nil) throws {
        var bytes = try BackupTestStore.bytes(path)
        bytes[offset ?? bytes.count / 2] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test func aCorruptedByteInADeltaNamesTheDelta() throws {
        let (store, repository, files) = try Self.repositoryWithIncrements()
        defer { store.remove() }
        let damaged = repository.path(of: files[1])
        let original = try BackupTestStore.bytes(damaged)
        try Self.flipByte(damaged)
        let output = store.scratch.path("out.fs")
        guard case .checksumMismatch(let path, _, _) = Self.refusal(repository, output) else { return }
        #expect(path == damaged)
        // Restoring to before the damage still works.
        try repository.restore(upTo: files[0].stamp, output: output)
        try FileManager.default.removeItem(atPath: output)
        try FileManager.default.removeItem(atPath: output + ".index")
        // verify agrees, and so does repozo -V.
        let problems = try repository.verify()
        #expect(problems.count == 1)
        guard case .checksumMismatch(let verified, _, _) = problems.first else { Issue.record("\(problems)"); return }
        #expect(verified == damaged)
        let repozo = try BackupTestStore.repozo(["-V", "-r", repository.path])
        #expect(repozo.status != 0 && repozo.stderr.contains(files[1].name), "\(repozo.stderr)")
        // A changed byte in the gzip increment: its stream or its md5 is wrong.
        try Data(original).write(to: URL(fileURLWithPath: damaged))
        let gzipped = repository.path(of: files[2])
        try Self.flipByte(gzipped, at: 30)
        switch Self.refusal(repository, output) {
        case .checksumMismatch(let path, _, _), .badGzip(let path, _), .sizeMismatch(let path, _, _): #expect(path == gzipped)
        case let other: Issue.record("\(String(describing: other))")
        }
    }

    @Test func anExistingOutputIsLeftAloneWhenTheRestoreFails() throws {
        let (store, repository, files) = try Self.repositoryWithIncrements()
        defer { store.remove() }
        try Self.flipByte(repository.path(of: files[3]))
        let output = store.scratch.path("live.fs")
        try Data("the store in use".utf8).write(to: URL(fileURLWithPath: output))
        #expect(throws: BackupError.self) { try repository.restore(upTo: nil, output: output) }
        #expect(try BackupTestStore.bytes(output) == Array("the store in use".utf8))
        #expect(!FileManager.default.fileExists(atPath: output + ".part"))
    }

    @Test func aMissingIncrementIsNamed() throws {
        let (store, repository, files) = try Self.repositoryWithIncrements()
        defer { store.remove() }
        let output = store.scratch.path("out.fs")
        // The middle one.
        let middle = repository.path(of: files[1])
        let saved = try BackupTestStore.bytes(middle)
        try FileManager.default.removeItem(atPath: middle)
        guard case .missingFile(let path, _) = Self.refusal(repository, output) else { return }
        #expect(path == middle)
        #expect(try repository.verify().contains { if case .missingFile(middle, _) = $0 { true } else { false } })
        #expect(try BackupTestStore.repozo(["-V", "-r", repository.path]).status != 0, "repozo -V agrees")
        try Data(saved).write(to: URL(fileURLWithPath: middle))
        // The last one: repozo -R would quietly restore an older state.
        let last = repository.path(of: files[3])
        try FileManager.default.removeItem(atPath: last)
        guard case .missingFile(let lastPath, _) = Self.refusal(repository, output) else { return }
        #expect(lastPath == last)
        // Up to the time before it, nothing is missing.
        try repository.restore(upTo: files[2].stamp, output: output)
    }

    @Test func aMissingDatAGapAndAnUnlistedFileAreNamed() throws {
        let (store, repository, files) = try Self.repositoryWithIncrements()
        defer { store.remove() }
        let output = store.scratch.path("out.fs")
        let dat = repository.path(of: files[0].with(.dat))
        let text = try String(contentsOfFile: dat, encoding: .utf8)
        var lines = text.split(separator: "\n").map(String.init)

        // A line whose range does not start where the one before ends.
        var shifted = try #require(DatEntry(line: Substring(lines[2])))
        shifted.start += 1
        try (lines[0...1].joined(separator: "\n") + "\n" + shifted.line + lines[3] + "\n").write(toFile: dat, atomically: false, encoding: .utf8)
        guard case .gap(let gapPath, _, _) = Self.refusal(repository, output) else { return }
        #expect(gapPath == repository.path(of: files[2]))

        // A file with no line.
        lines.remove(at: 2)
        try (lines.joined(separator: "\n") + "\n").write(toFile: dat, atomically: false, encoding: .utf8)
        guard case .unlisted(let unlisted, let datPath) = Self.refusal(repository, output) else { return }
        #expect(unlisted == repository.path(of: files[2]) && datPath == dat)

        // A line that is not one.
        try (text + "this is not a dat line\n").write(toFile: dat, atomically: false, encoding: .utf8)
        guard case .badDatLine(let badPath, let number, _) = Self.refusal(repository, output) else { return }
        #expect(badPath == dat && number == 5)

        // No .dat at all.
        try FileManager.default.removeItem(atPath: dat)
        guard case .missingFile(let missing, _) = Self.refusal(repository, output) else { return }
        #expect(missing == dat)
    }

    @Test func nothingToRestoreBeforeTheFirstFullBackup() throws {
        let (store, repository, files) = try Self.repositoryWithIncrements()
        defer { store.remove() }
        let before = RepositoryFile.stamp(for: RepositoryFile.time(of: files[0].stamp)! - 1)
        guard case .noBackup = Self.refusal(repository, store.scratch.path("out.fs"), upTo: before) else { return }
    }
}
