import Pickle
import Storage
import ZODB

/// One editor for either kind of Zope container, chosen the way
/// `ZopeObject` classifies directories: a state with `_tree` is a
/// BTreeFolder2 (`BTreeFolderEditor`), any other ObjectManager keeps
/// `_objects` and attributes (`FolderEditor`). The root `PersistentMapping`
/// of a non-Zope database is not editable.
public enum ContainerEditor {
    case folder(FolderEditor)
    case btreeFolder(BTreeFolderEditor)

    public init(record: ObjectRecord, load: @escaping PersistentBTree.Loader,
                allocateOID: @escaping () -> OID) throws(ContainerEditError) {
        if record.state["_tree"] != nil {
            self = .btreeFolder(try BTreeFolderEditor(folder: record, load: load, allocateOID: allocateOID))
        } else if record.oid != .root {
            self = .folder(try FolderEditor(folder: record))
        } else {
            throw .unexpectedState(oid: record.oid, expected: "a Zope folder (the root mapping is not editable)")
        }
    }

    /// The value stored for the child `id` (normally a persistent reference).
    public mutating func child(_ id: String) throws(ContainerEditError) -> PickleValue? {
        switch self {
        case .folder(let editor):
            return editor.child(id)
        case .btreeFolder(var editor):
            defer { self = .btreeFolder(editor) }
            return try editor.child(id)
        }
    }

    /// `_setObject(id, child)`; see `FolderEditor.add`, `BTreeFolderEditor.add`.
    public mutating func add(_ id: String, child: PickleValue, metaType: String?) throws(ContainerEditError) {
        switch self {
        case .folder(var editor):
            defer { self = .folder(editor) }
            try editor.add(id, child: child, metaType: metaType)
        case .btreeFolder(var editor):
            defer { self = .btreeFolder(editor) }
            try editor.add(id, child: child, metaType: metaType)
        }
    }

    /// `_delObject(id)`; returns the child's reference.
    @discardableResult
    public mutating func remove(_ id: String) throws(ContainerEditError) -> PickleValue {
        switch self {
        case .folder(var editor):
            defer { self = .folder(editor) }
            return try editor.remove(id)
        case .btreeFolder(var editor):
            defer { self = .btreeFolder(editor) }
            return try editor.remove(id)
        }
    }

    /// `manage_renameObject(id, newID)`; the child's own record is the
    /// caller's to update (`ObjectIdentity.renamed`).
    public mutating func rename(_ id: String, to newID: String) throws(ContainerEditError) {
        switch self {
        case .folder(var editor):
            defer { self = .folder(editor) }
            try editor.rename(id, to: newID)
        case .btreeFolder(var editor):
            defer { self = .btreeFolder(editor) }
            try editor.rename(id, to: newID)
        }
    }

    /// The records to store; call once, after the last edit.
    public mutating func changedObjects() -> [ChangedObject] {
        switch self {
        case .folder(let editor):
            return editor.changedObject.map { [$0] } ?? []
        case .btreeFolder(var editor):
            defer { self = .btreeFolder(editor) }
            return editor.changedObjects()
        }
    }
}
