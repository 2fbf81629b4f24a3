import FS
import Foundation
import Storage
import Testing
import TestSupport

/// A file read through another descriptor while it is being written: the
/// reader sees the bytes written so far, and its close commits nothing.
/// Found by the crash campaign, where a reader's close committed a new
/// file's first bytes (an empty body) and a kill before the writer's close
/// left that partial file in the store.
@Suite("Reading a file while another descriptor writes it", .serialized)
struct ReadingWhileWritingTests {
    static func readAll(_ fs: ZODBFilesystem, _ inode: InodeNumber, _ handle: UInt64) throws -> [UInt8] {
        try fs.read(inode, handle: handle, offset: 0, size: 1 << 20).assembled(path: "")
    }

    @Test("a reader's close does not commit a new file's partial body")
    func newFile() throws {
        let store = try WritableStore()
        let fs = store.filesystem
        let docs = try store.inode("docs")
        let transactions = try fs.fileStorage.transactions().count
        let (entry, open) = try fs.create(parent: docs, name: "upload.bin", mode: 0o644, flags: O_WRONLY | O_CREAT)
        let writer = open.handle
        let inode = entry.attributes.inode
        let first = pseudoRandomBytes(1000, seed: 1)
        _ = try first.withUnsafeBytes { try fs.write(inode, handle: writer, offset: 0, bytes: $0) }

        let reader = try fs.open(inode, flags: O_RDONLY).handle
        #expect(try Self.readAll(fs, inode, reader) == first, "the reader sees what was written so far")
        try fs.flush(inode, handle: reader)
        fs.release(inode, handle: reader)
        #expect(try fs.fileStorage.transactions().count == transactions, "the reader's close committed nothing")

        let rest = pseudoRandomBytes(2000, seed: 2)
        _ = try rest.withUnsafeBytes { try fs.write(inode, handle: writer, offset: 1000, bytes: $0) }
        try fs.flush(inode, handle: writer)
        fs.release(inode, handle: writer)
        #expect(try fs.fileStorage.transactions().count == transactions + 1)
        try store.reopen()
        #expect(try store.read("docs/upload.bin") == first + rest)
    }

    @Test("a reader's close does not commit a stored file's half-done change; its fsync does")
    func storedFile() throws {
        let store = try WritableStore()
        let fs = store.filesystem
        let old = pseudoRandomBytes(150_000, seed: 3)
        try store.write("docs/edited.bin", old)
        let inode = try store.inode("docs/edited.bin")
        let writer = try fs.open(inode, flags: O_WRONLY | O_TRUNC).handle
        let new = pseudoRandomBytes(70_000, seed: 4)
        _ = try new.withUnsafeBytes { try fs.write(inode, handle: writer, offset: 0, bytes: $0) }

        // A reader opened now shares the writer's bytes; its close commits nothing.
        let reader = try fs.open(inode, flags: O_RDONLY).handle
        #expect(try Self.readAll(fs, inode, reader) == new)
        let transactions = try fs.fileStorage.transactions().count
        try fs.flush(inode, handle: reader)
        #expect(try fs.fileStorage.transactions().count == transactions)
        // fsync through any descriptor makes the file durable, as on a disk.
        try fs.fsync(inode, handle: reader)
        #expect(try fs.fileStorage.transactions().count == transactions + 1)
        fs.release(inode, handle: reader)

        let more = pseudoRandomBytes(10, seed: 5)
        _ = try more.withUnsafeBytes { try fs.write(inode, handle: writer, offset: 70_000, bytes: $0) }
        try fs.flush(inode, handle: writer)
        fs.release(inode, handle: writer)
        try store.reopen()
        #expect(try store.read("docs/edited.bin") == new + more)
        let report = try store.verify()
        #expect(report.problems == [])
        #expect(report["docs/edited.bin"]?.sha256 == sha256Hex(new + more))
    }
}
