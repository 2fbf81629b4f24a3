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
