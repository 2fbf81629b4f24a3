@testable import FS
import Foundation
import Storage
import Testing
import TestSupport

/// `open` of a file that another handle is writing, racing with that
/// handle's release: `open` saw the file being written, and by the time it
/// attaches, the writer is gone. Found by the crash campaign, where such an
/// `open(O_WRONLY|O_TRUNC)` of an existing file failed with ENOENT.
@Suite("Opening a file while its writer closes", .serialized)
struct OpenWhileClosingTests {
    @Test("a write open that finds the writer gone opens the stored file")
    func writerGoneBeforeAttach() throws {
        let store = try WritableStore()
        let fs = store.filesystem
        try store.write("many/race.bin", pseudoRandomBytes(100_000, seed: 1))
        let inode = try store.inode("many/race.bin")

        let writer = try fs.open(inode, flags: O_WRONLY).handle
        let seen = try #require(fs.openFiles.file(inode))
        try fs.flush(inode, handle: writer)
        fs.release(inode, handle: writer)
        #expect(fs.openFiles.file(inode) == nil)

        // What `open` does next with the file it saw.
        let handle = try fs.openForWriting(inode, oid: seen.oid, flags: O_WRONLY | O_TRUNC, existing: seen).handle
        let new = pseudoRandomBytes(5000, seed: 2)
        _ = try new.withUnsafeBytes { try fs.write(inode, handle: handle, offset: 0, bytes: $0) }
        try fs.flush(inode, handle: handle)
        fs.release(inode, handle: handle)
        try store.reopen()
        #expect(try store.read("many/race.bin") == new)
    }

    @Test("a read open shares a writer's bytes only while the writer is there")
    func readerFindsTheWriterGone() throws {
        let store = try WritableStore()
        let fs = store.filesystem
        let old = pseudoRandomBytes(3000, seed: 3)
        try store.write("docs/race.txt", old)
        let inode = try store.inode("docs/race.txt")

        let writer = try fs.open(inode, flags: O_WRONLY).handle
        let shared = try #require(fs.openSharing(inode))
        fs.release(inode, handle: shared.handle)
        try fs.flush(inode, handle: writer)
        fs.release(inode, handle: writer)
        // Gone: no handle on the closed file, which is not brought back.
        #expect(fs.openSharing(inode) == nil)
        #expect(fs.openFiles.file(inode) == nil)
        #expect(try store.read("docs/race.txt") == old)
    }
}
