import FS
import Foundation
import Storage
import TestSupport
import Testing

/// Another client's commit landing in the middle of a folder edit: the edit
/// must read the folder's BTree as of one transaction and conflict, never
/// mix a root read before the other commit with a bucket read after it.
@Suite struct ConcurrentFolderEditTests {
    /// A FileStorage whose first load of a record of the class named in
    /// ``arm(onClass:_:)`` first runs another client's work, as if that
    /// client committed just then; and whose next commit after
    /// ``resolveNextCommit(_:)`` is followed by another client's work and
    /// reported as a ZEO server reports a conflict it resolved.
    final class InterleavingStorage: ObjectStorage, @unchecked Sendable {
        let base: FileStorage
        private let hook = Guarded<(className: String, work: () -> Void)?>(nil)
        private let fired = Guarded(false)
        var hookFired: Bool { fired.withLock { $0 } }

        init(_ base: FileStorage) { self.base = base }

        func arm(onClass className: String, _ work: @escaping () -> Void) {
            hook.withLock { $0 = (className, work) }
        }

        private let afterCommit = Guarded<(() -> Void)?>(nil)

        func resolveNextCommit(_ work: @escaping () -> Void) {
            afterCommit.withLock { $0 = work }
        }

        var name: String { base.name }
        var isReadOnly: Bool { base.isReadOnly }
        var lastTransaction: TID { base.lastTransaction }
        var size: UInt64 { base.size }
        var objectCount: Int { base.objectCount }
        var seesOtherWriters: Bool { true }
        var statusLines: [String] { base.statusLines }

        func load(_ oid: OID) throws(StorageError) -> (data: [UInt8], tid: TID) {
            let loaded = try base.load(oid)
            // A record opens with its class pickle: `cBTrees.Length\nLength\n…`.
            let opening = String(decoding: loaded.data.prefix(48), as: UTF8.self)
            if let work = hook.withLock({ h -> (() -> Void)? in
                guard let armed = h, opening.contains(armed.className) else { return nil }
                h = nil
                return armed.work
            }) {
                work()
                fired.withLock { $0 = true }
                return try base.load(oid)
            }
            return loaded
        }

        func loadBefore(_ oid: OID, before tid: TID) throws(StorageError) -> (data: [UInt8], start: TID, end: TID?)? {
            try base.loadBefore(oid, before: tid)
        }
        func currentSerial(_ oid: OID) throws(StorageError) -> TID? { try base.currentSerial(oid) }
        func newOIDs(_ count: Int) throws(StorageError) -> [OID] { try base.newOIDs(count) }
        func commit(_ records: [PendingRecord], metadata: TransactionMetadata) throws(StorageError) -> CommitResult {
            var result = try base.commit(records, metadata: metadata)
            if let work = afterCommit.withLock({ h -> (() -> Void)? in defer { h = nil }; return h }) {
                work()
                result.resolved = Set(records.map(\.oid))
            }
            return result
        }
        func poll() throws(StorageError) -> [TransactionSummary] { [] }
        func close() { base.close() }
    }

    /// The fixture's `empty btree` given 40 children (`a-00` …), so that its
    /// `_tree` is a root node over separate buckets; the mount's filesystem
    /// over an ``InterleavingStorage``, and another client's filesystem on
    /// the same FileStorage.
    struct FolderOfForty {
        let store: WritableStore
        let storage: InterleavingStorage
        let other: ZODBFilesystem
        static let folder = "empty btree"

        init() throws {
            store = try WritableStore()
            var wrapped: InterleavingStorage!
            try store.reopen { wrapped = InterleavingStorage($0); return wrapped }
            storage = wrapped
            other = try WritableStore.open(storage.base, spool: store.path + ".other-spool")
            for i in 0..<40 { try store.write(String(format: "\(Self.folder)/a-%02d", i), Array("a\n".utf8)) }
        }

        /// The other client creates empty files named `names`, one commit each.
        func otherClientCreates(_ names: [String]) {
            do {
                let parent = try other.resolve(path: Self.folder)
                for name in names {
                    let (entry, open) = try other.create(parent: parent, name: name, mode: 0o644, flags: O_WRONLY | O_CREAT)
                    try other.flush(entry.attributes.inode, handle: open.handle)
                    other.release(entry.attributes.inode, handle: open.handle)
                }
            } catch {
                Issue.record("the other client's commits failed: \(error)")
            }
        }
    }

    /// In ``FolderOfForty``, `zz-…` sort last, into the last bucket. The
    /// other client adds 41 of them after the edit read the root and while it
    /// reads the `_count` Length, splitting that bucket: `zz-100` then
    /// belongs in a bucket the edit's root does not know. Every record the
    /// edit writes (bucket, Length, meta-type set) was read after the other
    /// commits, so no serial check objects — as over ZEO, where the server
    /// resolves concurrent changes of a Length or a bucket. Before edits
    /// read as of one transaction, `zz-100` went into the old bucket, where
    /// `objectIds()` lists it and `_tree['zz-100']` raises KeyError.
    @Test func anotherClientsSplitDuringAnEditMakesItBuildAgain() throws {
        let site = try FolderOfForty()
        let (store, storage) = (site.store, site.storage)
        storage.arm(onClass: "\nLength\n") {
            site.otherClientCreates((0...40).map { String(format: "zz-%03d", $0) })
        }
        try store.write("empty btree/zz-100", Array("mine\n".utf8))
        #expect(storage.hookFired, "the other client never ran inside the edit")

        let report = try store.verify()
        #expect(report.problems == [])
        #expect(report["empty btree/zz-100"]?.size == 5)
        for i in 0...40 { #expect(report[String(format: "empty btree/zz-%03d", i)] != nil, "zz-\(i)") }
        for i in 0..<40 { #expect(report[String(format: "empty btree/a-%02d", i)] != nil, "a-\(i)") }
    }

    /// The mount adds a child to a BTreeFolder2 whose listing it has cached,
    /// and the server resolves the commit's conflict with another client's
    /// addition to the same bucket: the store holds both children. The
    /// mount must not patch its cached listing with its own child alone —
    /// the other one would be missing (ENOENT) until that client's
    /// invalidation is polled — but read the folder again.
    @Test func aCommitTheServerResolvedIsNotPatchedIntoTheCachedListing() throws {
        let site = try FolderOfForty()
        let store = site.store
        let folder = try store.inode("empty btree")
        #expect(try store.filesystem.list(folder).count == 40 + 2)

        site.storage.resolveNextCommit { site.otherClientCreates(["theirs.txt"]) }
        try store.write("empty btree/mine.txt", Array("mine\n".utf8))
        #expect((try? store.inode("empty btree/theirs.txt")) != nil, "the other client's child is missing from the listing")
        #expect((try? store.inode("empty btree/mine.txt")) != nil)
        #expect(try store.filesystem.list(folder).count == 42 + 2)
    }
}
