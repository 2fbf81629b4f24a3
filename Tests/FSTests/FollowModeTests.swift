import FS
import Foundation
import Storage
import TestSupport
import Testing

/// A read-only filesystem notices a transaction that Python appends to the
/// same Data.fs, shows it, and tells the kernel what to forget.
@Suite struct FollowModeTests {
    @Test func appendedTransactionShowsUp() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let copy = scratch.path("Data.fs")
        try FileManager.default.copyItem(atPath: fixture.dataFS, toPath: copy)
        try FileManager.default.copyItem(atPath: fixture.index, toPath: copy + ".index")

        let fs = try ZODBFilesystem.opening(copy)
        let invalidator = RecordingInvalidator()
        fs.invalidator = invalidator
        let folder = fixture.folders.first { !$0.path.contains("/") }!
        let folderInode = try fs.resolve(path: folder.path)
        let before = try fs.list(folderInode)
        #expect(!before.contains("appended.txt"))
        _ = try fs.lookup(parent: .root, name: folder.path)

        let result = try runCommand(try TestEnvironment.python(),
                                    [TestEnvironment.script("fixtures/append_file.py"), copy, folder.path,
                                     "appended.txt", "written by another process\n"])
        #expect(result.status == 0, "\(result.stderr)")

        #expect(fs.followOnce() == 1)
        #expect(try fs.list(folderInode).contains("appended.txt"))
        let file = try fs.lookup(parent: folderInode, name: "appended.txt").attributes.inode
        #expect(try fs.readWhole(file).digest == sha256Hex(Array("written by another process\n".utf8)))
        #expect(invalidator.inodes.withLock { $0.contains(folderInode) })
        #expect(fs.followOnce() == 0)
    }
}
