import Pickle
import Storage
import ZODB

/// How zodbfs sees one object (DESIGN.md "Objects → paths"):
/// - a directory: anything with an `_objects` tuple (OFS ObjectManager:
///   Application, Folder and subclasses), anything with a `_tree`
///   (BTreeFolder2 and subclasses), and the root `PersistentMapping`;
/// - a regular file: `OFS.Image.File`/`Image` and subclasses — recognised by
///   the state, which holds `data` and an integer `size`, since a pickle
///   cannot tell us the class hierarchy;
/// - anything else: an unmapped object, shown as a read-only text file.
public enum ZopeObject: Sendable {
    case directory(ZopeDirectory)
    case file(ZopeFile)
    case unmapped(UnmappedObject)

    public init(record: ObjectRecord) {
        let state = record.state
        if record.oid == .root, let data = state["data"], data.dictEntries != nil {
            self = .directory(ZopeDirectory(record: record, children: .mapping(data)))
        } else if let objects = state["_objects"], objects.tupleElements != nil {
            self = .directory(ZopeDirectory(record: record, children: .objectManager(objects)))
        } else if let tree = state["_tree"], let ref = PersistentReference(tree) {
            self = .directory(ZopeDirectory(record: record, children: .btree(ref.oid)))
        } else if Self.objectManagerClasses.contains(record.objectClass), state.dictEntries != nil {
            // A folder that never had a child stores no `_objects`: the
            // empty tuple is the class default.
            self = .directory(ZopeDirectory(record: record, children: .objectManager(.tuple([]))))
        } else if let file = ZopeFile(record: record) {
            self = .file(file)
        } else {
            self = .unmapped(UnmappedObject(record: record))
        }
    }

    public var record: ObjectRecord {
        switch self {
        case .directory(let d): return d.record
        case .file(let f): return f.record
        case .unmapped(let u): return u.record
        }
    }

    /// ObjectManager classes whose instances are folders even when their
    /// state has no `_objects` yet.
    static let objectManagerClasses: Set<ClassName> = [
        ClassName(module: "OFS.Folder", name: "Folder"),
        ClassName(module: "OFS.OrderedFolder", name: "OrderedFolder"),
        ClassName(module: "OFS.Application", name: "Application"),
    ]

    /// `meta_type` of the stock Zope classes. Zope keeps `meta_type` on the
    /// class, so a record does not carry it; a parent's `_objects` entry
    /// does, and is preferred when known (see `ZopeDirectory`).
    static let knownMetaTypes: [ClassName: String] = [
        ClassName(module: "OFS.Image", name: "File"): "File",
        ClassName(module: "OFS.Image", name: "Image"): "Image",
        ClassName(module: "OFS.Image", name: "Pdata"): "Pdata",
        ClassName(module: "OFS.Folder", name: "Folder"): "Folder",
        ClassName(module: "OFS.OrderedFolder", name: "OrderedFolder"): "Folder (Ordered)",
        ClassName(module: "OFS.Application", name: "Application"): "Folder",
        ClassName(module: "OFS.SimpleItem", name: "SimpleItem"): "simple item",
        ClassName(module: "OFS.userfolder", name: "UserFolder"): "User Folder",
        ClassName(module: "OFS.DTMLMethod", name: "DTMLMethod"): "DTML Method",
        ClassName(module: "OFS.DTMLDocument", name: "DTMLDocument"): "DTML Document",
        ClassName(module: "Products.PageTemplates.ZopePageTemplate", name: "ZopePageTemplate"): "Page Template",
        ClassName(module: "Products.SiteAccess.VirtualHostMonster", name: "VirtualHostMonster"): "Virtual Host Monster",
        ClassName(module: "Products.BTreeFolder2.BTreeFolder2", name: "BTreeFolder2"): "BTreeFolder2",
    ]

    /// `user.zope.meta_type` when no parent listing said it: the instance
    /// attribute if set, the stock class's value, else the class name.
    public var metaType: String {
        if let mt = record.state["meta_type"]?.stringValue { return mt }
        return Self.knownMetaTypes[record.objectClass] ?? record.objectClass.name
    }

    /// `user.zope.title`.
    public var title: String? { record.state["title"]?.textValue }
}

extension PickleValue {
    /// Text from a `str`, or from bytes that are valid UTF-8 (Python 2 era
    /// records keep text as byte strings).
    var textValue: String? {
        if let s = stringValue { return s }
        if let b = bytesValue { return String(validating: b, as: UTF8.self) }
        return nil
    }
}
