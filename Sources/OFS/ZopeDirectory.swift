import Pickle
import Storage
import ZODB

/// A folder-like object and where its children come from.
public struct ZopeDirectory: Sendable {
    public enum Children: Sendable {
        /// ObjectManager: ids listed in `_objects` (a tuple of
        /// `{'id':…, 'meta_type':…}` dicts), each child held in the instance
        /// attribute of the same name (zodb_formats §6.2, §6.3).
        case objectManager(PickleValue)
        /// BTreeFolder2: children live only in the `_tree` OOBTree (§6.7).
        case btree(OID)
        /// The root `PersistentMapping` of a non-Zope database: its `data` dict.
        case mapping(PickleValue)
    }

    public var record: ObjectRecord
    public var children: Children

    public init(record: ObjectRecord, children: Children) {
        self.record = record
        self.children = children
    }
}

/// One name in a directory listing.
public struct DirectoryEntry: Sendable, Equatable {
    public var name: String
    public var oid: OID
    /// The `meta_type` the parent's `_objects` records for the child (Zope
    /// keeps it on the class, so the child's own record lacks it).
    public var metaType: String?
    public init(name: String, oid: OID, metaType: String? = nil) {
        self.name = name
        self.oid = oid
        self.metaType = metaType
    }
}

/// A directory's entries together with every record they were read from and
/// its tid, so a cache can tell when a new transaction makes the listing
/// stale (adding to a BTreeFolder2 rewrites a bucket, not the folder).
public struct DirectoryListing: Sendable {
    public var entries: [DirectoryEntry]
    public var sources: [OID: TID]
}
