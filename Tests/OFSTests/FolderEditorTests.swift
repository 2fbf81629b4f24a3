import Foundation
@testable import OFS
import Pickle
import Storage
import Testing
import ZODB

/// The editors' own rules, without Python: what `_setObject`,
/// `_delObject` and `manage_renameObject` do to an instance dict, the
/// errors, and the BTreeFolder2 bookkeeping (`_count`, `_mt_index`).
/// Agreement with Zope itself is in ContainerEditCompatibilityTests.
@Suite struct FolderEditorTests {
    static let folderClass = ZopeFolderState.folderClass

    static func entry(_ key: String, _ value: PickleValue) -> PickleDictEntry {
        PickleDictEntry(key: .string(key), value: value)
    }

    static func info(_ id: String, _ metaType: String) -> PickleValue {
        .dict([entry("id", .string(id)), entry("meta_type", .string(metaType))])
    }

    static func folder(_ entries: [PickleDictEntry]) -> ObjectRecord {
        ObjectRecord(oid: OID(7), tid: TID(99), objectClass: folderClass, classArguments: nil, state: .dict(entries))
    }

    @Test func newFolderStateIsWhatManageAddFolderLeaves() {
        #expect(ZopeFolderState.new(id: "f", title: "T") == .dict([Self.entry("id", .string("f")),
                                                                   Self.entry("title", .string("T"))]))
        #expect(ZopeFolderState.new(id: "f")["title"] == .string(""))
    }

    @Test func addingToAFolderThatNeverHadAChildStoresObjectsFirst() throws {
        var editor = try FolderEditor(folder: Self.folder([Self.entry("id", .string("f")),
                                                           Self.entry("title", .string(""))]))
        #expect(editor.changedObject == nil)
        let ref = PickleValue.reference(to: OID(20), objectClass: Self.folderClass)
        try editor.add("a", child: ref, metaType: "Folder")
        #expect(editor.record.state == .dict([
            Self.entry("id", .string("f")), Self.entry("title", .string("")),
            Self.entry("_objects", .tuple([Self.info("a", "Folder")])), Self.entry("a", ref),
        ]))
        let change = try #require(editor.changedObject)
        #expect(change.oid == OID(7) && change.previousSerial == TID(99) && change.objectClass == Self.folderClass)
        #expect(editor.ids == ["a"])
    }

    @Test func removeAndRenameKeepEverythingElseInPlace() throws {
        let a = PickleValue.reference(to: OID(20), objectClass: Self.folderClass)
        let b = PickleValue.reference(to: OID(21), objectClass: Self.folderClass)
        let unknown = PickleValue.object(PickleObject(callable: .global(module: "x", name: "Y"), isNewObj: true))
        var editor = try FolderEditor(folder: Self.folder([
            Self.entry("id", .string("f")),
            Self.entry("_objects", .tuple([Self.info("a", "Folder"), Self.info("b", "File")])),
            Self.entry("a", a), Self.entry("zz_unknown", unknown), Self.entry("b", b),
        ]))
        try editor.rename("a", to: "c")
        #expect(editor.ids == ["b", "c"])
        #expect(editor.record.state == .dict([
            Self.entry("id", .string("f")),
            Self.entry("_objects", .tuple([Self.info("b", "File"), Self.info("c", "Folder")])),
            Self.entry("zz_unknown", unknown), Self.entry("b", b), Self.entry("c", a),
        ]))
        #expect(try editor.remove("b") == b)
        #expect(try editor.remove("c") == a)
        // `_objects` stays, as the empty tuple `_delObject` assigns.
        #expect(editor.record.state == .dict([
            Self.entry("id", .string("f")), Self.entry("_objects", .tuple([])), Self.entry("zz_unknown", unknown),
        ]))
    }

    @Test func orderedFolderRenameKeepsThePosition() throws {
        let a = PickleValue.reference(to: OID(20), objectClass: Self.folderClass)
        let b = PickleValue.reference(to: OID(21), objectClass: Self.folderClass)
        var editor = try FolderEditor(folder: ObjectRecord(
            oid: OID(7), tid: TID(99), objectClass: ClassName(module: "OFS.OrderedFolder", name: "OrderedFolder"),
            classArguments: nil, state: .dict([
                Self.entry("_objects", .tuple([Self.info("a", "Folder"), Self.info("b", "File")])),
                Self.entry("a", a), Self.entry("b", b),
            ])))
        try editor.rename("a", to: "c")
        #expect(editor.ids == ["c", "b"])
        #expect(editor.record.state.dictEntries?.map { $0.key } == [.string("_objects"), .string("b"), .string("c")])
    }

    @Test func refusals() throws {
        let a = PickleValue.reference(to: OID(20), objectClass: Self.folderClass)
        var editor = try FolderEditor(folder: Self.folder([
            Self.entry("id", .string("f")), Self.entry("title", .string("")),
            Self.entry("_objects", .tuple([Self.info("a", "Folder")])), Self.entry("a", a),
        ]))
        func reason(_ body: () throws -> Void) -> String {
            do { try body() } catch { return "\(error)" }
            return "accepted"
        }
        #expect(reason { try editor.add("a", child: a, metaType: "Folder") } == "The id \"a\" is invalid - it is already in use.")
        #expect(reason { try editor.rename("a", to: "a") } == "The id \"a\" is invalid - it is already in use.")
        #expect(reason { try editor.rename("a", to: "_a") } == "The id \"_a\" is invalid because it begins with an underscore.")
        #expect(reason { try editor.remove("title") } == "no child named \"title\"")
        #expect(reason { try editor.rename("missing", to: "b") } == "no child named \"missing\"")
        #expect(editor.changedObject == nil)
        #expect(throws: ContainerEditError.self) {
            _ = try FolderEditor(folder: ObjectRecord(oid: OID(1), tid: TID(1), objectClass: Self.folderClass,
                                                      classArguments: nil, state: .tuple([])))
        }
    }

    /// A BTreeFolder2 in the memory store: `_tree`, `_count`, `_mt_index`
    /// as `BTreeFolder2.__init__` makes them (empty trees are `None`).
    static func btreeFolder(in store: MemoryStore) -> ObjectRecord {
        let tree = store.allocate(), count = store.allocate(), index = store.allocate(), folder = store.allocate()
        let oo = BTreeFamily.objectObject.treeClass
        let length = ClassName(module: "BTrees.Length", name: "Length")
        let btf = ClassName(module: "Products.BTreeFolder2.BTreeFolder2", name: "BTreeFolder2")
        store.commit([
            ChangedObject(oid: tree, objectClass: oo, state: .none, previousSerial: nil),
            ChangedObject(oid: count, objectClass: length, state: .int(0), previousSerial: nil),
            ChangedObject(oid: index, objectClass: oo, state: .none, previousSerial: nil),
            ChangedObject(oid: folder, objectClass: btf, state: .dict([
                entry("id", .string("btf")),
                entry("_tree", .reference(to: tree, objectClass: oo)),
                entry("_count", .reference(to: count, objectClass: length)),
                entry("_mt_index", .reference(to: index, objectClass: oo)),
                entry("title", .string("")),
            ]), previousSerial: nil),
        ])
        return store.records[folder]!
    }

    @Test func btreeFolderBookkeeping() throws {
        let store = MemoryStore(firstOID: 1)
        let folder = Self.btreeFolder(in: store)
        var editor = try BTreeFolderEditor(folder: folder, load: store.load, allocateOID: store.allocate)
        for i in 0 ..< 100 {
            try editor.add(String(format: "f%03d", i), child: .reference(to: OID(UInt64(1000 + i)), objectClass: Self.folderClass),
                           metaType: i % 10 == 0 ? "Folder" : "File")
        }
        try editor.add("untyped", child: .reference(to: OID(2000), objectClass: Self.folderClass), metaType: nil)
        #expect(editor.objectCount == 101)
        #expect(try editor.ids(metaType: "Folder") == (0 ..< 10).map { String(format: "f%03d", $0 * 10) })
        #expect(try editor.ids(metaType: "File").count == 90)
        var changes = editor.changedObjects()
        #expect(!changes.contains { $0.oid == folder.oid }, "the folder's own record never changes")
        store.commit(changes)

        editor = try BTreeFolderEditor(folder: folder, load: store.load, allocateOID: store.allocate)
        #expect(try editor.ids().count == 101)
        #expect(throws: ContainerEditError.self) {
            try editor.add("f001", child: .reference(to: OID(3000), objectClass: Self.folderClass), metaType: "File")
        }
        #expect(throws: ContainerEditError.self) { try editor.remove("nothing") }
        #expect(throws: ContainerEditError.self) { try editor.rename("f001", to: "f001") }
        // Renaming keeps the count (its record is not rewritten) and the meta type.
        try editor.rename("f010", to: "g010")
        #expect(try editor.ids(metaType: "Folder").contains("g010"))
        #expect(try editor.child("g010") == .reference(to: OID(1010), objectClass: Self.folderClass))
        // Removing every Folder drops the meta type from `_mt_index`.
        for id in try editor.ids(metaType: "Folder") { try editor.remove(id) }
        try editor.remove("untyped")
        #expect(try editor.ids(metaType: "Folder").isEmpty)
        #expect(editor.objectCount == 90)
        changes = editor.changedObjects()
        let countOID = PersistentReference(folder.state["_count"]!)!.oid
        #expect(changes.first { $0.oid == countOID }?.state == .int(90))
        store.commit(changes)
        editor = try BTreeFolderEditor(folder: folder, load: store.load, allocateOID: store.allocate)
        #expect(editor.objectCount == 90)
        var index = try PersistentBTree(oid: PersistentReference(folder.state["_mt_index"]!)!.oid, load: store.load)
        #expect(try index.items().map { $0.key } == [.string("File")])
    }
}
