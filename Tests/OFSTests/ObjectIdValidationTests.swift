import Foundation
@testable import OFS
import Pickle
import Storage
import TestSupport
import Testing
import ZODB

/// `ObjectIdValidation` accepts and refuses the ids Zope's
/// `OFS.ObjectManager.checkValidId` does, with Zope's messages, for a
/// Folder, the Application and a BTreeFolder2 of the fixture; and its table
/// of class attributes is what a running Zope lists.
@Suite struct ObjectIdValidationTests {
    static let ids: [String] = [
        "", "ok", "new file.txt", "a<b", "a>b", "a&b", "tab\there", "del\u{7f}", "nul\u{0}", "x\"y'<z",
        ".", "..", "...", "_x", "_", "aq_x", "aq", "x__", "x_", "__init__", "@@view", "++resource", "@x", "+x",
        "REQUEST", "REQUESTS", "a/b", "/", "title", "id", "manage_main", "objectIds", "keys", "get",
        "manage_addFile", "Control_Panel", "misc_", "generateId", "has_key", "moveObjectsUp",
        "readme.txt", "Café menu.txt", "Cafe\u{301} menu.txt", "日本語.txt", "level2", "index_html",
        "acl_users", "docs", "file-00001.txt", "zz sub folder", "_objects", "__ac_local_roles__",
        "Ünïcödé", "emoji 😀",
    ]

    /// Zope's verdicts, from a copy of the fixture (starting Zope opens
    /// its database for writing).
    func pythonVerdicts(folder path: String, fixture: ZopeFixture) throws -> [String?] {
        let scratch = try ScratchDirectory("zodbfs-ids")
        defer { scratch.cleanUp() }
        let dataFS = scratch.path("Data.fs")
        try FileManager.default.copyItem(atPath: fixture.dataFS, toPath: dataFS)
        try FileManager.default.copyItem(atPath: fixture.index, toPath: dataFS + ".index")
        let idsPath = scratch.path("ids.json")
        try JSONSerialization.data(withJSONObject: Self.ids).write(to: URL(fileURLWithPath: idsPath))
        let output = try runPeer("peers/container_edits.py", ["check-ids", dataFS, path, idsPath])
        return try JSONDecoder().decode([String?].self, from: output)
    }

    /// `REQUEST` is refused either way; which message Zope gives depends on
    /// whether the container can acquire a request (`Item.REQUEST` is
    /// `Acquisition.Acquired`), which a live Zope always can.
    func sameVerdict(_ id: String, _ ours: String?, _ zope: String?) -> Bool {
        if id == "REQUEST" { return ours == "REQUEST is a reserved name." && zope != nil }
        return ours == zope
    }

    @Test(arguments: ["docs", "", "unmapped/empty folder"])
    func objectManagerIdsAsZopeChecksThem(_ path: String) throws {
        let fixture = try TestEnvironment.zopeFixture()
        let expected = try pythonVerdicts(folder: path, fixture: fixture)
        let storage = try FileStorage(path: fixture.dataFS, readOnly: true)
        defer { storage.close() }
        let oid = path.isEmpty ? OID(UInt64(fixture.manifest.root_oid, radix: 16)!)
            : OID(fixture.manifest.entries.first { $0.path == path }!.oidValue)
        let record = try ObjectLoader(storage: storage).load(oid)
        for (id, zope) in zip(Self.ids, expected) {
            var ours: String?
            do {
                try ObjectIdValidation.check(id, objectManagerState: record.state, objectClass: record.objectClass)
            } catch {
                ours = error.message
            }
            #expect(sameVerdict(id, ours, zope), "\(path.isEmpty ? "Application" : path): \(id.debugDescription): \(ours ?? "accepted") / Zope: \(zope ?? "accepted")")
        }
    }

    /// Zope's own `BTreeFolder2._checkId` only refuses duplicates; zodbfs
    /// refuses what `checkValidId` refuses (ids Zope could not traverse to),
    /// with BTreeFolder2's message for a duplicate.
    @Test func btreeFolderIdsAsCheckValidIdChecksThem() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let expected = try pythonVerdicts(folder: "many", fixture: fixture)
        let storage = try FileStorage(path: fixture.dataFS, readOnly: true)
        defer { storage.close() }
        let loader = ObjectLoader(storage: storage)
        let record = try loader.load(OID(fixture.manifest.entries.first { $0.path == "many" }!.oidValue))
        var editor = try BTreeFolderEditor(folder: record, load: loader.load, allocateOID: { OID(0) })
        for (id, zope) in zip(Self.ids, expected) {
            var ours: InvalidObjectID?
            let isChild = try editor.contains(id)
            do {
                try ObjectIdValidation.check(id, btreeFolderState: record.state, objectClass: record.objectClass,
                                             isChild: isChild)
            } catch {
                ours = error
            }
            if ours?.reason == .alreadyInUse {
                #expect(ours?.message == "The id \"\(id)\" is invalid--it is already in use.")
                #expect(zope == "The id \"\(id)\" is invalid - it is already in use.", "\(id.debugDescription)")
            } else {
                #expect(sameVerdict(id, ours?.message, zope), "many: \(id.debugDescription): \(ours?.message ?? "accepted") / Zope: \(zope ?? "accepted")")
            }
        }
        // And the editor applies them.
        #expect(throws: ContainerEditError.self) {
            try editor.add("keys", child: .reference(to: OID(1), objectClass: ZopeFolderState.folderClass), metaType: "Folder")
        }
        #expect(throws: ContainerEditError.self) {
            try editor.add("file-00001.txt", child: .reference(to: OID(1), objectClass: ZopeFolderState.folderClass),
                           metaType: "Folder")
        }
        #expect(editor.changedObjects().isEmpty)
    }

    @Test func reasonsTellDuplicatesFromBadNames() throws {
        let state = PickleValue.dict([
            PickleDictEntry(key: .string("id"), value: .string("f")),
            PickleDictEntry(key: .string("_objects"), value: .tuple([.dict([
                PickleDictEntry(key: .string("id"), value: .string("child")),
                PickleDictEntry(key: .string("meta_type"), value: .string("File")),
            ])])),
            PickleDictEntry(key: .string("child"), value: .reference(to: OID(9), objectClass: ZopeFolderState.folderClass)),
        ])
        func reason(_ id: String) -> InvalidObjectID.Reason? {
            do {
                try ObjectIdValidation.check(id, objectManagerState: state, objectClass: ZopeFolderState.folderClass)
                return nil
            } catch {
                return error.reason
            }
        }
        #expect(reason("child") == .alreadyInUse)
        #expect(reason("id") == .shadowsAttribute)
        #expect(reason("manage_main") == .shadowsAttribute)
        #expect(reason("a\u{1}") == .illegalCharacters)
        #expect(reason("a/b") == .illegalCharacters)
        #expect(reason("_\u{301}x") == .leadingUnderscore, "a leading underscore even with a combining mark")
        #expect(reason("..") == .notTraversable)
        #expect(reason("REQUEST") == .reservedName)
        #expect(reason("other") == nil)
    }

    /// `ContainerClassAttributes.swift` is generated from a running Zope;
    /// this catches a Zope upgrade that changed the classes.
    @Test func classAttributeTableMatchesZope() throws {
        let output = try runPeer("peers/container_class_attributes.py", [])
        let table = try JSONDecoder().decode([String: [String]].self, from: output)
        #expect(table.count == 4)
        for (qualified, names) in table {
            let dot = qualified.lastIndex(of: ".")!
            let cls = ClassName(module: String(qualified[..<dot]), name: String(qualified[qualified.index(after: dot)...]))
            #expect(ObjectIdValidation.classAttributes(of: cls) == Set(names), "\(qualified)")
        }
    }
}
