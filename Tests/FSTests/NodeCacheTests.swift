@testable import FS
import Foundation
import Storage
import Testing
import TestSupport

/// A node loaded while a commit was applied must not be cached: found by the
/// crash campaign, where a BTreeFolder2 listing loaded during another
/// worker's commit was cached without that commit's change, so a folder
/// just created or moved there answered ENOENT (and a name just removed
/// EEXIST) until the folder changed again.
@Suite("The node cache and commits that overlap a load", .serialized)
struct NodeCacheTests {
    /// Empties the cache without recording a change, as its capacity limit
    /// does: the next access loads.
    static func forgetEverything(_ cache: NodeCache) {
        cache.state.withLock { s in
            s.nodes.removeAll()
            s.dependents.removeAll()
        }
    }

    @Test("a listing loaded before a commit to its folder is not cached after it")
    func staleListingIsNotCached() throws {
        let store = try WritableStore()
        let fs = store.filesystem
        let many = try store.inode("many")
        let oid = try #require(fs.inodes.oid(for: many))
        Self.forgetEverything(fs.nodes)

        // A load that starts, then a commit to the folder that finds
        // nothing cached to patch, then the load tries to cache its result.
        let start = fs.nodes.state.withLock { $0.generation }
        let stale = try Node.load(oid, loader: fs.loader)
        _ = try fs.mkdir(parent: many, name: "made meanwhile", mode: 0o755)
        Self.forgetEverything(fs.nodes)
        #expect(!fs.nodes.insert(stale, loadedAfter: start))
        #expect(fs.nodes.cached(oid) == nil)
        // What the next lookup loads and caches has the new name.
        #expect(throws: Never.self) { _ = try fs.lookup(parent: many, name: "made meanwhile") }
        #expect(fs.nodes.cached(oid)?.child(named: "made meanwhile") != nil)

        // The same for a name removed meanwhile: it must not come back.
        Self.forgetEverything(fs.nodes)
        let before = fs.nodes.state.withLock { $0.generation }
        let listed = try Node.load(oid, loader: fs.loader)
        #expect(listed.child(named: "made meanwhile") != nil)
        try fs.rmdir(parent: many, name: "made meanwhile")
        Self.forgetEverything(fs.nodes)
        #expect(!fs.nodes.insert(listed, loadedAfter: before))
        #expect(errnoOf { _ = try fs.lookup(parent: many, name: "made meanwhile") } == ENOENT)
        _ = try fs.mkdir(parent: many, name: "made meanwhile", mode: 0o755)
    }

    @Test("a load that no change to its records overlapped is cached")
    func unrelatedCommitsDoNotPreventCaching() throws {
        let store = try WritableStore()
        let fs = store.filesystem
        let many = try store.inode("many")
        let oid = try #require(fs.inodes.oid(for: many))
        Self.forgetEverything(fs.nodes)
        let start = fs.nodes.state.withLock { $0.generation }
        let node = try Node.load(oid, loader: fs.loader)
        // Commits elsewhere: a plain folder and a file in it.
        _ = try fs.mkdir(parent: try store.inode("docs"), name: "elsewhere", mode: 0o755)
        try store.write("docs/elsewhere/file.txt", Array("x\n".utf8))
        #expect(fs.nodes.insert(node, loadedAfter: start))
        #expect(fs.nodes.cached(oid) != nil)
    }

    @Test("a load that overlapped more changes than the log keeps is not cached")
    func tooManyOverlappingChanges() throws {
        let store = try WritableStore()
        let fs = store.filesystem
        let oid = try #require(fs.inodes.oid(for: try store.inode("many")))
        Self.forgetEverything(fs.nodes)
        let start = fs.nodes.state.withLock { $0.generation }
        let node = try Node.load(oid, loader: fs.loader)
        for i in 0...NodeCache.changeLogLength { _ = fs.nodes.invalidate([OID(UInt64(1_000_000 + i))]) }
        #expect(!fs.nodes.insert(node, loadedAfter: start))
    }
}
