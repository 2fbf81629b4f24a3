import FS
import Foundation
import Storage
import Testing
import TestSupport

/// The write path in-process, checked by the real ZODB and Zope: after each
/// session `verify_store.py` opens the Data.fs with the pinned Python
/// packages and must find exactly the expected tree, bytes and content
/// types, with fstest, fsrefs, the index loader and the BTree checker clean.
@Suite("Writing through the filesystem", .serialized)
struct WritePathTests {
    @Test("new files in a Folder, in every body shape, as Zope would store them")
    func newFiles() throws {
        let store = try WritableStore()
        let sizes = [0, 6, 65535, 65536, 100_000, 131_072, 131_073, 300_001, 1_048_576 + 17]
        var expected: [String: [UInt8]] = [:]
        for (i, size) in sizes.enumerated() {
            let name = "new-\(size).bin"
            let bytes = pseudoRandomBytes(size, seed: UInt64(i + 1))
            try store.write("files/\(name)", bytes)
            expected["files/\(name)"] = bytes
            #expect(try store.read("files/\(name)") == bytes, "read back \(name) through the mount")
        }
        try store.write("docs/hello.txt", Array("hello, world\n".utf8))
        try store.write("docs/page2.html", Array("<html><body>hi</body></html>\n".utf8))
        let report = try store.verify()
        #expect(report.problems == [])
        for (path, bytes) in expected {
            let entry = try #require(report[path], "\(path) is in the store")
            #expect(entry.size == bytes.count)
            #expect(entry.sha256 == sha256Hex(bytes))
            #expect(entry.class == "OFS.Image.File")
            #expect(entry.pdata == Self.zopeLayout(bytes.count), "\(path): Pdata layout as File._read_data makes it")
        }
        #expect(report["docs/hello.txt"]?.content_type == "text/plain")
        #expect(report["docs/page2.html"]?.content_type == "text/html")
        #expect(report["files/new-0.bin"]?.content_type == "application/octet-stream")
    }

    @Test("a write in the middle of a chain rewrites only the links it touches")
    func partialOverwrite() throws {
        let store = try WritableStore()
        var original = try store.read("files/big.bin")
        let before = try store.filesystem.fileStorage.transactions().count
        let patch = pseudoRandomBytes(10, seed: 9)
        try store.patch("files/big.bin", at: 200_000, patch)
        original.replaceSubrange(200_000..<200_010, with: patch)
        let transactions = try store.filesystem.fileStorage.transactions()
        #expect(transactions.count == before + 1)
        #expect(transactions.last?.oids.count == 2, "one Pdata link and the File record")
        // Across a link boundary (77,881 is where the first link ends).
        let across = pseudoRandomBytes(1000, seed: 10)
        try store.patch("files/big.bin", at: 77_500, across)
        original.replaceSubrange(77_500..<78_500, with: across)
        #expect(try store.filesystem.fileStorage.transactions().last?.oids.count == 3)
        #expect(try store.read("files/big.bin") == original)
        let report = try store.verify()
        #expect(report.problems == [])
        #expect(report["files/big.bin"]?.sha256 == sha256Hex(original))
        #expect(report["files/big.bin"]?.size == original.count)
    }

    @Test("append, truncate and extend a chain; shrink one to inline bytes")
    func appendAndTruncate() throws {
        let store = try WritableStore()
        var big = try store.read("files/chain-1MiB.bin")
        let tail = pseudoRandomBytes(150_000, seed: 3)
        try store.patch("files/chain-1MiB.bin", at: UInt64(big.count), tail)
        big += tail

        var text = try store.read("files/text-300000.txt")
        let inode = try store.inode("files/text-300000.txt")
        _ = try store.filesystem.setattr(inode, handle: nil, changes: { var c = AttributeChanges(); c.size = 200_000; return c }())
        text = Array(text.prefix(200_000))
        // Truncate then extend: the gap reads as zeros, not the old bytes.
        var chain = try store.read("files/chain-200000.bin")
        let handle = try store.filesystem.open(try store.inode("files/chain-200000.bin"), flags: O_RDWR).handle
        let chainInode = try store.inode("files/chain-200000.bin")
        _ = try store.filesystem.setattr(chainInode, handle: handle, changes: { var c = AttributeChanges(); c.size = 150_000; return c }())
        _ = try [UInt8](repeating: 7, count: 10).withUnsafeBytes {
            try store.filesystem.write(chainInode, handle: handle, offset: 180_000, bytes: $0)
        }
        try store.filesystem.flush(chainInode, handle: handle)
        store.filesystem.release(chainInode, handle: handle)
        chain = Array(chain.prefix(150_000)) + [UInt8](repeating: 0, count: 30_000) + [UInt8](repeating: 7, count: 10)

        let small = try store.read("files/chain-131073.bin")
        let smallInode = try store.inode("files/chain-131073.bin")
        _ = try store.filesystem.setattr(smallInode, handle: nil, changes: { var c = AttributeChanges(); c.size = 1000; return c }())

        #expect(try store.read("files/chain-1MiB.bin") == big)
        #expect(try store.read("files/chain-200000.bin") == chain)
        let report = try store.verify()
        #expect(report.problems == [])
        #expect(report["files/chain-1MiB.bin"]?.sha256 == sha256Hex(big))
        #expect(report["files/text-300000.txt"]?.sha256 == sha256Hex(text))
        #expect(report["files/text-300000.txt"]?.size == 200_000)
        #expect(report["files/chain-200000.bin"]?.sha256 == sha256Hex(chain))
        #expect(report["files/chain-131073.bin"]?.sha256 == sha256Hex(small.prefix(1000)))
        #expect(report["files/chain-131073.bin"]?.pdata == nil, "1000 bytes are stored inline")
    }

    @Test("mkdir, rename within and across folders and over a file, unlink, rmdir")
    func namespace() throws {
        let store = try WritableStore()
        let fs = store.filesystem
        let root = InodeNumber.root
        _ = try fs.mkdir(parent: root, name: "new folder", mode: 0o755)
        try store.write("new folder/a.txt", Array("A\n".utf8))
        try store.write("new folder/b.txt", Array("B\n".utf8))
        let folder = try store.inode("new folder")
        try fs.rename(parent: folder, name: "a.txt", newParent: folder, newName: "c.txt", flags: 0)
        try fs.rename(parent: folder, name: "b.txt", newParent: try store.inode("docs"), newName: "moved b.txt", flags: 0)
        // Over an existing file, as editors save.
        try store.write("docs/readme.txt.tmp", Array("new readme\n".utf8))
        try fs.rename(parent: try store.inode("docs"), name: "readme.txt.tmp",
                      newParent: try store.inode("docs"), newName: "readme.txt", flags: 0)
        #expect(errnoOf {
            try fs.rename(parent: try store.inode("docs"), name: "page.html",
                          newParent: try store.inode("docs"), newName: "readme.txt", flags: 1)
        } == EEXIST, "RENAME_NOREPLACE")
        #expect(errnoOf { try fs.rmdir(parent: root, name: "new folder") } == ENOTEMPTY)
        try fs.unlink(parent: folder, name: "c.txt")
        try fs.rmdir(parent: root, name: "new folder")
        // A folder moved into another folder keeps its children.
        try fs.rename(parent: try store.inode("docs"), name: "level2", newParent: try store.inode("files"),
                      newName: "level2 moved", flags: 0)

        let report = try store.verify()
        #expect(report.problems == [])
        #expect(report["new folder"] == nil)
        #expect(report["docs/moved b.txt"]?.sha256 == sha256Hex(Array("B\n".utf8)))
        #expect(report["docs/moved b.txt"]?.id == "moved b.txt")
        #expect(report["docs/readme.txt"]?.sha256 == sha256Hex(Array("new readme\n".utf8)))
        #expect(report["docs/readme.txt.tmp"] == nil)
        #expect(report["files/level2 moved/level3/level4/deep.txt"]?.size == 17)
        #expect(report["files/level2 moved"]?.id == "level2 moved")
        #expect(report["docs/level2"] == nil)
    }

    @Test("adding and removing in a BTreeFolder2 keeps its tree, count and meta_type index valid")
    func btreeFolder() throws {
        let store = try WritableStore()
        for i in 0..<150 {
            try store.write("many/added-\(String(format: "%04d", i)).txt", Array("added \(i)\n".utf8))
        }
        try store.write("empty btree/first.txt", Array("first\n".utf8))
        _ = try store.filesystem.mkdir(parent: try store.inode("small btree"), name: "sub", mode: 0o755)
        let many = try store.inode("many")
        let names = try store.filesystem.list(many).filter { $0.hasPrefix("f") }.prefix(300)
        for name in names { try store.filesystem.unlink(parent: many, name: name) }
        try store.filesystem.rename(parent: many, name: "added-0001.txt", newParent: many, newName: "renamed.txt", flags: 0)
        let report = try store.verify()
        #expect(report.problems == [])
        #expect(report["many/renamed.txt"]?.size == 8)
        #expect(report["many/added-0001.txt"] == nil)
        #expect(report["many/added-0149.txt"] != nil)
        #expect(report["empty btree/first.txt"] != nil)
        #expect(report["small btree/sub"]?.kind == "folder")
        for name in names { #expect(report["many/\(name)"] == nil) }
    }

    @Test("names Zope cannot hold are refused with EINVAL; links with EPERM")
    func refusedNames() throws {
        let store = try WritableStore()
        let docs = try store.inode("docs")
        for name in ["_private", "aq_parent", "x__", "a&b", "<tag>", "REQUEST", "@@view", "++resource"] {
            #expect(errnoOf { _ = try store.filesystem.create(parent: docs, name: name, mode: 0o644, flags: O_WRONLY) } == EINVAL,
                    "\(name)")
            #expect(errnoOf { _ = try store.filesystem.mkdir(parent: docs, name: name, mode: 0o755) } == EINVAL, "\(name)")
        }
        #expect(store.filesystem.refuseModification().errno == EPERM)
        #expect(try store.filesystem.fileStorage.transactions().count == (try TestEnvironment.zopeFixture().manifest.transactions ?? 0))
    }

    @Test("chmod and utimens are kept; a second rsync would find them")
    func modeAndTimes() throws {
        let store = try WritableStore()
        let inode = try store.write("docs/timed.txt", Array("t\n".utf8))
        var changes = AttributeChanges()
        changes.mode = 0o600
        changes.modificationTime = .time(Timestamp(seconds: 1_600_000_000, nanoseconds: 500_000_000))
        let attributes = try store.filesystem.setattr(inode, handle: nil, changes: changes)
        #expect(attributes.permissions == 0o600)
        #expect(attributes.modificationTime == Timestamp(seconds: 1_600_000_000, nanoseconds: 500_000_000))
        try store.reopen()
        let again = try store.filesystem.getattr(try store.inode("docs/timed.txt"))
        #expect(again.permissions == 0o600)
        #expect(again.modificationTime == Timestamp(seconds: 1_600_000_000, nanoseconds: 500_000_000))
        try store.filesystem.setxattr(try store.inode("docs/timed.txt"), name: "user.zope.content_type",
                                      value: Array("text/x-custom".utf8))
        let report = try store.verify()
        #expect(report.problems == [])
        #expect(report["docs/timed.txt"]?.mode == 0o600)
        #expect(report["docs/timed.txt"]?.posix_mtime == 1_600_000_000.5)
        #expect(report["docs/timed.txt"]?.content_type == "text/x-custom")
    }

    /// `File._read_data`'s link lengths; nil for inline bodies.
    static func zopeLayout(_ size: Int) -> [Int]? {
        let n = 1 << 16
        if size < n { return nil }
        if size <= 2 * n { return [size] }
        var links: [Int] = []
        var end = size
        while end > 0 {
            var pos = end - n
            if pos < n { pos = 0 }
            links.insert(end - pos, at: 0)
            end = pos
        }
        return links
    }
}
