import Pickle
import Storage
import ZODB

/// Adds, removes and renames children of a plain ObjectManager (`OFS.Folder.Folder`,
/// `OFS.Application.Application`, `OFS.OrderedFolder`, and other classes that
/// keep `_objects` plus one attribute per child), producing the state
/// Zope's own methods leave (`OFS/ObjectManager.py`):
///
/// - `_setObject`: `self._objects = self._objects + ({'id': id, 'meta_type': t},)`
///   then `setattr(self, id, ob)` — `_objects` keeps its place in the
///   instance dict (it is appended when the folder never had a child, its
///   value then being the class default `()`), the child's attribute is
///   appended;
/// - `_delObject`: `_objects` filtered to a new tuple (stored even when it
///   becomes `()`), then `delattr(self, id)`;
/// - `manage_renameObject` (`OFS/CopySupport.py`): `_delObject(id)` then
///   `_setObject(new_id, ob)`, so the renamed child moves to the end of
///   `_objects` and of the instance dict. The child's own id (`id`, or
///   `__name__` for File and Image, `_setId`) is the caller's to change:
///   see `ObjectIdentity.renamed`.
///
/// `OFS.OrderedFolder.OrderedFolder` renames "without changing its
/// position" (`OFS/OrderSupport.py: manage_renameObject`, then
/// `moveObjectToPosition`): its renamed entry goes back to its old index of
/// `_objects` (the instance dict keeps it at the end).
///
/// Every other entry of the state, known or not, is kept as it was and
/// where it was.
public struct FolderEditor: Sendable {
    public private(set) var record: ObjectRecord
    public private(set) var isChanged = false

    public init(folder: ObjectRecord) throws(ContainerEditError) {
        guard folder.state.dictEntries != nil else {
            throw .unexpectedState(oid: folder.oid, expected: "an ObjectManager instance dict")
        }
        if let objects = folder.state["_objects"], objects.tupleElements == nil {
            throw .unexpectedState(oid: folder.oid, expected: "an ObjectManager whose _objects is a tuple")
        }
        self.record = folder
    }

    /// `objectIds()`: the ids in `_objects` order.
    public var ids: [String] {
        (record.state["_objects"]?.tupleElements ?? []).compactMap { $0["id"]?.textValue }
    }

    /// Whether `_objects` lists `id`.
    public func isChild(_ id: String) -> Bool {
        (record.state["_objects"]?.tupleElements ?? []).contains { ObjectIdValidation.sameText($0["id"], id) }
    }

    /// The value of the child's attribute (normally a persistent
    /// reference); nil when `id` is not a child.
    public func child(_ id: String) -> PickleValue? {
        guard isChild(id), let entries = record.state.dictEntries else { return nil }
        return entries.last { ObjectIdValidation.sameText($0.key, id) }?.value
    }

    /// The record to store, nil when nothing changed.
    public var changedObject: ChangedObject? {
        guard isChanged else { return nil }
        return ChangedObject(oid: record.oid, objectClass: record.objectClass, state: record.state,
                             previousSerial: record.tid)
    }

    /// `_setObject(id, child)`; `metaType` is the child class's `meta_type`
    /// (nil for a class without one: Zope stores `None`).
    public mutating func add(_ id: String, child: PickleValue, metaType: String?) throws(ContainerEditError) {
        do {
            try ObjectIdValidation.check(id, objectManagerState: record.state, objectClass: record.objectClass)
        } catch {
            throw .invalidID(error)
        }
        let info = PickleValue.dict([
            PickleDictEntry(key: .string("id"), value: .string(id)),
            PickleDictEntry(key: .string("meta_type"), value: metaType.map { .string($0) } ?? .none),
        ])
        var entries = record.state.dictEntries ?? []
        let objects = (record.state["_objects"]?.tupleElements ?? []) + [info]
        Self.set("_objects", to: .tuple(objects), in: &entries)
        entries.append(PickleDictEntry(key: .string(id), value: child))
        record.state = .dict(entries)
        isChanged = true
    }

    /// `_delObject(id)`; returns the child's attribute value. Only a child
    /// — listed in `_objects` and held in its attribute — can be removed
    /// (Zope's `_getOb` would also hand out any other public attribute).
    @discardableResult
    public mutating func remove(_ id: String) throws(ContainerEditError) -> PickleValue {
        guard let value = child(id) else { throw .noSuchChild(id) }
        var entries = record.state.dictEntries ?? []
        let objects = (record.state["_objects"]?.tupleElements ?? []).filter {
            !ObjectIdValidation.sameText($0["id"], id)
        }
        Self.set("_objects", to: .tuple(objects), in: &entries)
        entries.removeAll { ObjectIdValidation.sameText($0.key, id) }
        record.state = .dict(entries)
        isChanged = true
        return value
    }

    /// `manage_renameObject(id, newID)`. The child keeps its `_objects`
    /// `meta_type`. Renaming to the same id is refused, as Zope refuses it
    /// ("already in use").
    public mutating func rename(_ id: String, to newID: String) throws(ContainerEditError) {
        do {
            try ObjectIdValidation.check(newID, objectManagerState: record.state, objectClass: record.objectClass)
        } catch {
            throw .invalidID(error)
        }
        guard child(id) != nil else { throw .noSuchChild(id) }
        let before = record.state["_objects"]?.tupleElements ?? []
        let position = before.firstIndex { ObjectIdValidation.sameText($0["id"], id) }
        let metaType = position.flatMap { before[$0]["meta_type"] }
        let value = try remove(id)
        let entry = PickleValue.dict([
            PickleDictEntry(key: .string("id"), value: .string(newID)),
            PickleDictEntry(key: .string("meta_type"), value: metaType ?? .none),
        ])
        var entries = record.state.dictEntries ?? []
        var objects = record.state["_objects"]?.tupleElements ?? []
        if record.objectClass == Self.orderedFolderClass, let position {
            objects.insert(entry, at: position)
        } else {
            objects.append(entry)
        }
        Self.set("_objects", to: .tuple(objects), in: &entries)
        entries.append(PickleDictEntry(key: .string(newID), value: value))
        record.state = .dict(entries)
    }

    static let orderedFolderClass = ClassName(module: "OFS.OrderedFolder", name: "OrderedFolder")

    /// Python's `setattr` on an instance dict: replace in place, else append.
    static func set(_ key: String, to value: PickleValue, in entries: inout [PickleDictEntry]) {
        if let i = entries.lastIndex(where: { ObjectIdValidation.sameText($0.key, key) }) {
            entries[i].value = value
        } else {
            entries.append(PickleDictEntry(key: .string(key), value: value))
        }
    }
}
