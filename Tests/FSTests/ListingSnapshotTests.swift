import FS
import Foundation
import Storage
import Testing
import TestSupport

/// A directory handle lists the folder as it was at `opendir`, but the
/// lookups a `readdirplus` reply carries must be true now. Found by the
/// crash campaign: a listing opened before `rename(a, b)` over an existing
/// `b` sent `b` with the replaced file's inode; the kernel cached that, and
/// the next `open("b")` wrote into the replaced file — an acknowledged
/// write that the store did not have under the name.
@Suite("Listings taken before a change", .serialized)
struct ListingSnapshotTests {
    static func plusListing(_ fs: ZODBFilesystem, _ folder: InodeNumber, _ handle: UInt64) throws -> [String: EntryReply?] {
        var replier = CollectingReplier()
        try fs.readdir(folder, handle: handle, offset: 0, plus: true, into: &replier)
        return Dictionary(zip(replier.names, replier.entries), uniquingKeysWith: { a, _ in a })
    }

    @Test("readdirplus from an old handle sends no lookup for a name that changed since",
          arguments: ["docs", "many"])
    func renamedOverAndRemovedNames(_ folderName: String) throws {
        let store = try WritableStore()
        let fs = store.filesystem
        let folder = try store.inode(folderName)
        try store.write("\(folderName)/a.bin", Array("A\n".utf8))
        try store.write("\(folderName)/b.bin", Array("B\n".utf8))
        try store.write("\(folderName)/kept.bin", Array("K\n".utf8))
        try store.write("\(folderName)/gone.bin", Array("G\n".utf8))
        let a = try store.inode("\(folderName)/a.bin")
        let kept = try store.inode("\(folderName)/kept.bin")

        let handle = try fs.opendir(folder)
        try fs.rename(parent: folder, name: "a.bin", newParent: folder, newName: "b.bin", flags: 0)
        try fs.unlink(parent: folder, name: "gone.bin")
        // A new file not committed yet, made after the listing.
        let (created, open) = try fs.create(parent: folder, name: "a.bin", mode: 0o644, flags: O_WRONLY | O_CREAT)

        let listing = try Self.plusListing(fs, folder, handle)
        fs.releasedir(folder, handle: handle)
        // Every name is listed, as the snapshot had it; lookups only where true.
        #expect(listing.keys.contains("b.bin") && listing.keys.contains("gone.bin"))
        #expect(listing["b.bin"]! == nil, "b.bin names the renamed file now, not the listed one")
        #expect(listing["gone.bin"]! == nil)
        #expect(listing["a.bin"]! == nil, "a.bin is another file now")
        #expect(listing["kept.bin"]??.attributes.inode == kept)
        #expect(try fs.lookup(parent: folder, name: "b.bin").attributes.inode == a)

        // A fresh listing sends the current lookups, the pending file's too.
        let fresh = try fs.opendir(folder)
        let now = try Self.plusListing(fs, folder, fresh)
        fs.releasedir(folder, handle: fresh)
        #expect(now["b.bin"]??.attributes.inode == a)
        #expect(now["a.bin"]??.attributes.inode == created.attributes.inode)
        #expect(now["gone.bin"] == nil)
        fs.release(created.attributes.inode, handle: open.handle)
    }
}
