import Foundation
import Storage
import Testing
import TestSupport

/// A copy of the Zope fixture store in a scratch folder, changed between
/// backups by Zope (a File added through `append_file.py`) or by our own
/// `FileStorage.commit`, and the real `repozo` of the venv.
struct BackupTestStore {
    let scratch: ScratchDirectory
    let path: String

    init() throws {
        let fixture = try TestEnvironment.zopeFixture()
        scratch = try ScratchDirectory("zodbfs-backup")
        path = scratch.path("Data.fs")
        try FileManager.default.copyItem(atPath: fixture.dataFS, toPath: path)
        try FileManager.default.copyItem(atPath: fixture.index, toPath: path + ".index")
    }

    /// One transaction committed by ZODB and Zope: a File `name` in `docs`,
    /// `bytes` random bytes when given (already compressed data, which
    /// gzip backups store), else a text.
    func appendWithZope(_ name: String, randomBytes: Int? = nil) throws {
        var arguments = [TestEnvironment.script("fixtures/append_file.py"), path, "docs", name]
        if let randomBytes {
            let source = scratch.path(name + ".src")
            try runCommand("/bin/sh", ["-c", "head -c \(randomBytes) /dev/urandom > '\(source)'"])
            arguments += [source, "--from-file"]
        } else {
            arguments.append(String(repeating: "\(name) ", count: 2000))
        }
        let result = try runCommand(try TestEnvironment.python(), arguments)
        #expect(result.status == 0, "\(result.stderr)")
    }

    /// One transaction committed by our own storage: a new object.
    func appendWithFileStorage(_ text: String) throws {
        let storage = try FileStorage(path: path, readOnly: false)
        defer { storage.close() }
        let oid = try storage.newOIDs(1)[0]
        _ = try storage.commit([.bytes(oid, nil, Pickles.mapping(text))], metadata: TransactionMetadata(description: text))
    }

    func bytes() throws -> [UInt8] { try Self.bytes(path) }

    static func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    func repository(_ name: String = "repo") throws -> BackupRepository {
        let directory = scratch.path(name)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return BackupRepository(path: directory)
    }

    /// A backup by our code, of the store as it is on disk now.
    @discardableResult
    func backup(into repository: BackupRepository, _ mode: BackupMode = .auto, quick: Bool = false, gzip: Bool = false,
                at now: Double) throws -> BackupResult {
        let storage = try FileStorage(path: path)
        defer { storage.close() }
        return try repository.backup(storage, mode: mode, quick: quick, gzip: gzip, now: now)
    }

    func remove() { scratch.cleanUp() }

    /// `python -m ZODB.scripts.repozo ARGS`.
    static func repozo(_ arguments: [String]) throws -> CommandResult {
        try runCommand(try TestEnvironment.python(), ["-m", "ZODB.scripts.repozo"] + arguments)
    }

    /// `fstest` of the venv's ZODB: exit 0 and no output for a sound file.
    static func fstest(_ path: String) throws -> CommandResult {
        try runCommand(try TestEnvironment.python(), ["-m", "ZODB.scripts.fstest", path])
    }

    /// Seconds since the epoch, a while ago: repozo ignores backups stamped
    /// after now, so the tests' stamps stay in the past.
    static func past(_ secondsAgo: Double = 1000) -> Double {
        (Date().timeIntervalSince1970 - secondsAgo).rounded(.down)
    }
}
