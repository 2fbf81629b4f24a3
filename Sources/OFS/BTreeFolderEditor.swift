import Pickle
import Storage
import ZODB

/// Adds, removes and renames children of a `Products.BTreeFolder2` folder,
/// producing the records Zope's own methods would change
/// (`Products/BTreeFolder2/BTreeFolder2.py`, zodb_formats §6.7):
///
/// - `_setOb`: `_tree[id] = ob`, `_count.change(1)`, and when the child has
///   a `meta_type`, `_mt_index[meta_type][id] = 1`, creating the
///   `OIBTree` for a meta type not yet indexed;
/// - `_delOb`: `del _tree[id]`, `_count.change(-1)`, the id removed from
///   its meta type's `OIBTree`, and that `OIBTree` dropped from
///   `_mt_index` when it becomes empty;
/// - `manage_renameObject` (`OFS/CopySupport.py`): `_delObject` then
///   `_setObject` under the new id (so renaming the only child of a meta
///   type replaces its `OIBTree` with a new one, as Zope does). The
///   child's own id is the caller's to change (`ObjectIdentity.renamed`).
///
/// The folder's own record never changes: everything is in the trees and
/// the `Length`. The trees are edited node by node (`PersistentBTree`), so
/// an edit reads and rewrites only the nodes on its path.
///
/// `remove` and `rename` find the child's meta type in `_mt_index` rather
/// than from the child's class (Zope asks the object), so the caller need
/// not load the child; when the index is consistent the result is the same.
/// An id indexed under several meta types (a damaged index) is removed
/// from all of them.
///
/// One editor describes one transaction: make the edits, then call
/// `changedObjects()` once.
public struct BTreeFolderEditor {
    public typealias Loader = PersistentBTree.Loader

    public let folder: ObjectRecord
    let load: Loader
    let allocateOID: () -> OID
    var tree: PersistentBTree
    var count: Length
    let metaTypeIndexOID: OID
    var metaTypeIndex: PersistentBTree?
    /// The meta types' id sets, by the oid `_mt_index` refers to them with.
    var idSets: [OID: PersistentBTree] = [:]
    /// Id sets that were taken out of `_mt_index`: not stored.
    var droppedIDSets: Set<OID> = []

    struct Length {
        var oid: OID
        var objectClass: ClassName
        var serial: TID
        var stored: Int64
        var value: Int64
    }

    static let oiBTreeClass = BTreeFamily.objectInteger.treeClass

    /// - Parameters:
    ///   - folder: the BTreeFolder2 record (its state holds `_tree`,
    ///     `_count` and `_mt_index`).
    ///   - load: reads the current record of an oid (`ObjectLoader.load`).
    ///   - allocateOID: a new oid for each object this edit creates
    ///     (buckets and nodes from splits, an `OIBTree` for a new meta type).
    public init(folder: ObjectRecord, load: @escaping Loader, allocateOID: @escaping () -> OID) throws(ContainerEditError) {
        func reference(_ key: String) throws(ContainerEditError) -> OID {
            guard let value = folder.state[key], let ref = PersistentReference(value), ref.kind == .strong else {
                throw .unexpectedState(oid: folder.oid, expected: "a BTreeFolder2 with \(key)")
            }
            return ref.oid
        }
        self.folder = folder
        self.load = load
        self.allocateOID = allocateOID
        self.tree = try PersistentBTree(oid: try reference("_tree"), load: load)
        guard tree.family == .objectObject else {
            throw .unexpectedState(oid: tree.oid, expected: "an OOBTree")
        }
        let countOID = try reference("_count")
        let record: ObjectRecord
        do { record = try load(countOID) } catch { throw .record(error) }
        guard let value = record.state.intValue else {
            throw .unexpectedState(oid: countOID, expected: "a BTrees.Length.Length (an int)")
        }
        self.count = Length(oid: countOID, objectClass: record.objectClass, serial: record.tid, stored: value, value: value)
        self.metaTypeIndexOID = try reference("_mt_index")
    }

    /// `objectCount()`: the `_count` Length as it stands after the edits.
    public var objectCount: Int64 { count.value }

    /// `has_key(id)`.
    public mutating func contains(_ id: String) throws(ContainerEditError) -> Bool {
        try tree.value(forKey: .string(id)) != nil
    }

    /// The child's value in `_tree` (a persistent reference).
    public mutating func child(_ id: String) throws(ContainerEditError) -> PickleValue? {
        try tree.value(forKey: .string(id))
    }

    /// `objectIds()`: every id in key order (reads the whole bucket chain).
    public mutating func ids() throws(ContainerEditError) -> [String] {
        try tree.items().compactMap { $0.key.textValue }
    }

    /// `objectIds(meta_type)`: the ids indexed under `metaType`.
    public mutating func ids(metaType: String) throws(ContainerEditError) -> [String] {
        guard let setOID = try idSetOID(metaType) else { return [] }
        try loadIDSet(setOID)
        return try idSets[setOID]!.items().compactMap { $0.key.textValue }
    }

    /// `_setObject(id, child)`: `child` is the reference to store (see
    /// `PickleValue.reference(to:objectClass:)`), `metaType` the child
    /// class's `meta_type` (nil: not indexed, as Zope does for `None`).
    public mutating func add(_ id: String, child: PickleValue, metaType: String?) throws(ContainerEditError) {
        try validate(id)
        try insert(id, child: child, metaType: metaType)
    }

    /// `_delObject(id)`; returns the child's reference.
    @discardableResult
    public mutating func remove(_ id: String) throws(ContainerEditError) -> PickleValue {
        try delete(id).child
    }

    /// `manage_renameObject(id, newID)`. Renaming to the same id is refused
    /// as Zope refuses it ("already in use").
    public mutating func rename(_ id: String, to newID: String) throws(ContainerEditError) {
        try validate(newID)
        guard try contains(id) else { throw .noSuchChild(id) }
        let (child, metaType) = try delete(id)
        try insert(newID, child: child, metaType: metaType)
    }

    /// Everything to store: the changed `_tree` nodes, the `Length`,
    /// `_mt_index` nodes and id sets. Unchanged objects are left out (a
    /// rename leaves `_count` as it was); so are id sets taken out of
    /// `_mt_index`, which nothing refers to any more.
    public mutating func changedObjects() -> [ChangedObject] {
        var result = tree.changedObjects(allocateOID: allocateOID)
        if count.value != count.stored {
            result.append(ChangedObject(oid: count.oid, objectClass: count.objectClass, state: .int(count.value),
                                        previousSerial: count.serial))
            count.stored = count.value
        }
        if metaTypeIndex != nil {
            result += metaTypeIndex!.changedObjects(allocateOID: allocateOID)
        }
        for setOID in idSets.keys.sorted() where !droppedIDSets.contains(setOID) {
            result += idSets[setOID]!.changedObjects(allocateOID: allocateOID)
        }
        return result
    }

    // MARK: - Steps

    mutating func validate(_ id: String) throws(ContainerEditError) {
        let exists = try contains(id)
        do {
            try ObjectIdValidation.check(id, btreeFolderState: folder.state, objectClass: folder.objectClass,
                                         isChild: exists)
        } catch {
            throw .invalidID(error)
        }
    }

    /// `_setOb`.
    mutating func insert(_ id: String, child: PickleValue, metaType: String?) throws(ContainerEditError) {
        let key = PickleValue.string(id)
        guard try tree.value(forKey: key) == nil else {
            throw .invalidID(InvalidObjectID(id: id, reason: .alreadyInUse,
                                             message: "There is already an item named \"\(id)\"."))
        }
        let existingSet = try metaType.map { (type) throws(ContainerEditError) in try idSetOID(type) } ?? nil
        if let existingSet { try loadIDSet(existingSet) }
        try tree.setValue(child, forKey: key)
        count.value += 1
        guard let metaType else { return }
        let setOID: OID
        if let existingSet {
            setOID = existingSet
        } else {
            setOID = allocateOID()
            idSets[setOID] = PersistentBTree(newTreeWithOID: setOID, family: .objectInteger, load: load)
            try metaTypeIndex!.setValue(.reference(to: setOID, objectClass: Self.oiBTreeClass), forKey: .string(metaType))
        }
        try idSets[setOID]!.setValue(.int(1), forKey: key)
    }

    /// `_delOb`; returns the child and the meta type it was indexed under.
    mutating func delete(_ id: String) throws(ContainerEditError) -> (child: PickleValue, metaType: String?) {
        let key = PickleValue.string(id)
        guard let child = try tree.removeValue(forKey: key) else { throw .noSuchChild(id) }
        count.value -= 1
        var found: String?
        try loadIndex()
        for entry in try metaTypeIndex!.items() {
            guard let ref = PersistentReference(entry.value), ref.kind == .strong else { continue }
            try loadIDSet(ref.oid)
            guard try idSets[ref.oid]!.removeValue(forKey: key) != nil else { continue }
            if found == nil { found = entry.key.textValue }
            if idSets[ref.oid]!.isEmpty {
                try metaTypeIndex!.removeValue(forKey: entry.key)
                droppedIDSets.insert(ref.oid)
            }
        }
        return (child, found)
    }

    // MARK: - _mt_index

    mutating func loadIndex() throws(ContainerEditError) {
        guard metaTypeIndex == nil else { return }
        let index = try PersistentBTree(oid: metaTypeIndexOID, load: load)
        guard index.family == .objectObject else {
            throw .unexpectedState(oid: metaTypeIndexOID, expected: "an OOBTree")
        }
        metaTypeIndex = index
    }

    mutating func loadIDSet(_ setOID: OID) throws(ContainerEditError) {
        guard idSets[setOID] == nil else { return }
        let set = try PersistentBTree(oid: setOID, load: load)
        guard set.family == .objectInteger else {
            throw .unexpectedState(oid: setOID, expected: "an OIBTree")
        }
        idSets[setOID] = set
    }

    mutating func idSetOID(_ metaType: String) throws(ContainerEditError) -> OID? {
        try loadIndex()
        guard let value = try metaTypeIndex!.value(forKey: .string(metaType)) else { return nil }
        guard let ref = PersistentReference(value), ref.kind == .strong else {
            throw .unexpectedState(oid: metaTypeIndexOID, expected: "an OOBTree of OIBTrees")
        }
        return ref.oid
    }
}
