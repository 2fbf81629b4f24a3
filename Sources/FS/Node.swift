import OFS
import Storage
import ZODB

/// A decoded object as the filesystem needs it, valid for one revision.
/// Directories carry their listing with a name index, so `lookup` in a
/// 5,000-entry BTreeFolder2 is a dictionary hit, not a walk.
struct Node: Sendable {
    enum Content: Sendable {
        case directory(entries: [DirectoryEntry], index: [String: Int])
        case file(ZopeFile)
        /// An unmapped object's rendering.
        case rendered([UInt8])
    }

    var oid: OID
    var object: ZopeObject
    var content: Content
    /// Every record this node was built from, with its tid: the node is stale
    /// once a transaction touches any of them.
    let sources: [OID: TID]
    /// mtime: the newest transaction among the records the node was built
    /// from (adding to a BTreeFolder2 changes a bucket, not the folder).
    /// Kept, not recomputed: a big folder has hundreds of sources and
    /// `getattr` asks for this on every call.
    let modificationTID: TID

    init(oid: OID, object: ZopeObject, content: Content, sources: [OID: TID]) {
        self.oid = oid
        self.object = object
        self.content = content
        self.sources = sources
        modificationTID = sources.values.max() ?? object.record.tid
    }

    var size: UInt64 {
        switch content {
        case .directory: return 4096
        case .file(let f): return f.size
        case .rendered(let bytes): return UInt64(bytes.count)
        }
    }

    var isDirectory: Bool {
        if case .directory = content { return true }
        return false
    }

    func child(named name: String) -> DirectoryEntry? {
        guard case .directory(let entries, let index) = content, let i = index[name] else { return nil }
        return entries[i]
    }

    static func load(_ oid: OID, loader: ObjectLoader) throws(FSError) -> Node {
        let record: ObjectRecord
        do {
            record = try loader.load(oid)
        } catch {
            throw FSError(error)
        }
        return try build(record, loader: loader)
    }

    /// The node of `record`, loading what else it needs (a BTreeFolder2's
    /// buckets).
    static func build(_ record: ObjectRecord, loader: ObjectLoader) throws(FSError) -> Node {
        let oid = record.oid
        let object = ZopeObject(record: record)
        switch object {
        case .directory(let dir):
            let listing: DirectoryListing
            do {
                listing = try DirectoryReader(loader: loader).list(dir)
            } catch {
                throw FSError(error)
            }
            var index: [String: Int] = [:]
            index.reserveCapacity(listing.entries.count)
            var entries: [DirectoryEntry] = []
            entries.reserveCapacity(listing.entries.count)
            for entry in listing.entries where index[entry.name] == nil && Self.isListable(entry.name) {
                index[entry.name] = entries.count
                entries.append(entry)
            }
            return Node(oid: oid, object: object, content: .directory(entries: entries, index: index),
                        sources: listing.sources)
        case .file(let file):
            return Node(oid: oid, object: object, content: .file(file), sources: [oid: record.tid])
        case .unmapped(let other):
            return Node(oid: oid, object: object, content: .rendered(other.rendering), sources: [oid: record.tid])
        }
    }

    /// Names a POSIX directory can hold: Zope ids never contain '/', but a
    /// mapping key could; such an entry is left out rather than served under
    /// a path that means something else.
    static func isListable(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.utf8.contains(UInt8(ascii: "/"))
            && !name.utf8.contains(0) && name.utf8.count <= 255
    }
}

extension FSError {
    init(_ error: RecordError) {
        switch error {
        case .storage(let e):
            if case .objectNotFound = e { self = .notFound } else { self = .storage(e) }
        default:
            self = .corruptObject("\(error)")
        }
    }
}

extension Node {
    /// This listing after `changes`, committed by transaction `tid` which
    /// wrote `written` (oid → the serial it replaced); nil unless this node
    /// was built from exactly the revisions the transaction replaced.
    /// Only for BTreeFolder2s whose own record the transaction left alone
    /// (their children live in the tree): a rewritten folder record means
    /// the node's object is stale too, and a plain Folder's listing is its
    /// record, so both are simply reloaded.
    func applying(_ changes: [ContainerChange], tid: TID, written: [OID: TID?]) -> Node? {
        guard case .directory(var entries, _) = content, case .directory(let folder) = object,
              case .btree = folder.children else { return nil }
        for (oid, expected) in written {
            if let built = sources[oid], built != expected { return nil }
        }
        for change in changes {
            switch change {
            case .add(let name, let oid, _, let metaType):
                entries.removeAll { $0.name == name }
                insert(DirectoryEntry(name: name, oid: oid, metaType: metaType), into: &entries)
            case .remove(let name):
                entries.removeAll { $0.name == name }
            case .rename(let from, let to):
                guard let i = entries.firstIndex(where: { $0.name == from }) else { return nil }
                var entry = entries.remove(at: i)
                entry.name = to
                entries.removeAll { $0.name == to }
                insert(entry, into: &entries)
            }
        }
        var index: [String: Int] = [:]
        index.reserveCapacity(entries.count)
        for (i, entry) in entries.enumerated() { index[entry.name] = i }
        var newSources = sources
        for oid in written.keys { newSources[oid] = tid }
        return Node(oid: oid, object: object, content: .directory(entries: entries, index: index), sources: newSources)
    }

    /// BTree order of str keys: by code point, as Python compares them.
    static func keyOrder(_ a: DirectoryEntry, _ b: DirectoryEntry) -> Bool {
        a.name.unicodeScalars.lexicographicallyPrecedes(b.name.unicodeScalars)
    }

    /// Into a BTreeFolder2 listing, which is in key order.
    private func insert(_ entry: DirectoryEntry, into entries: inout [DirectoryEntry]) {
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if Self.keyOrder(entries[mid], entry) { lo = mid + 1 } else { hi = mid }
        }
        entries.insert(entry, at: lo)
    }
}
