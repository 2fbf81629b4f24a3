import FS
import Foundation
import Storage
import Testing
import TestSupport

/// Commands written to `.zodbfs/pack` and `.zodbfs/backup` when no job can
/// take them: the write fails with the documented errno and the status says why.
@Suite struct ControlCommandTests {
    func controlInode(_ fs: ZODBFilesystem, _ name: String) throws -> InodeNumber {
        try fs.resolve(path: ".zodbfs/" + name)
    }

    func write(_ fs: ZODBFilesystem, _ inode: InodeNumber, _ text: String) -> Int32? {
        errnoOf {
            let handle = try fs.open(inode, flags: O_WRONLY | O_TRUNC).handle
            defer { fs.release(inode, handle: handle) }
            _ = try Array(text.utf8).withUnsafeBytes { try fs.write(inode, handle: handle, offset: 0, bytes: $0) }
        }
    }

    func status(_ fs: ZODBFilesystem, _ inode: InodeNumber) throws -> String {
        let handle = try fs.open(inode, flags: O_RDONLY).handle
        defer { fs.release(inode, handle: handle) }
        guard case .bytes(let bytes) = try fs.read(inode, handle: handle, offset: 0, size: 1 << 16) else { return "" }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func readOnlyMountRefusesPackAndBackupWithoutRepository() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let fs = try ZODBFilesystem.opening(fixture.dataFS)
        defer { fs.storage.close() }
        let pack = try controlInode(fs, "pack")
        #expect(write(fs, pack, "now\n") == EROFS)
        #expect(try status(fs, pack).contains("read-only"))
        let backup = try controlInode(fs, "backup")
        #expect(write(fs, backup, "full\n") == EINVAL)
        #expect(try status(fs, backup).contains("--backup-dir"))
        #expect(errnoOf { _ = try fs.open(try controlInode(fs, "info"), flags: O_WRONLY) } == EACCES)
    }

    @Test func installedJobsGetTheCommand() throws {
        final class Recorder: ControlJob, @unchecked Sendable {
            var commands: [String] = []
            func start(_ command: String) throws(FSError) {
                guard command == "go" else { throw .invalidArgument("only go") }
                commands.append(command)
            }
            func statusText() -> String { "commands: \(commands)\n" }
            var isRunning: Bool { !commands.isEmpty }
        }
        let store = try WritableStore()
        let recorder = Recorder()
        store.filesystem.install(recorder, as: .pack)
        let pack = try controlInode(store.filesystem, "pack")
        #expect(write(store.filesystem, pack, "go\n") == nil)
        #expect(write(store.filesystem, pack, "stop\n") == EINVAL)
        #expect(recorder.commands == ["go"])
        #expect(try status(store.filesystem, pack) == "commands: [\"go\"]\n")
        let stats = try status(store.filesystem, try controlInode(store.filesystem, "stats"))
        #expect(stats.contains("zodbfs_job_running{job=\"pack\"} 1\n"), "\(stats)")
        #expect(stats.contains("zodbfs_job_running{job=\"backup\"} 0\n"))
    }
}
