import Foundation
import OFS
import Pickle
import Storage
import TestSupport
import Testing
import ZODB

/// Folder edits made here are the edits Zope makes: the same sequence of
/// additions, removals and renames is applied once by Zope's own methods
/// (`container_edits.py apply`) and once by `FolderEditor` and
/// `BTreeFolderEditor`, whose records are pickled by `PickleEncoder` and
/// stored with ZODB's own two-phase commit API; Zope then finds the same
/// folders in both files — ids in the same order, the same `_objects` and
/// instance-dict order, the same BTree buckets, separators and state forms
/// in `_tree`, `_mt_index` and every id set — and ZODB's checkers (fstest,
/// fsrefs, `BTrees.check`, `BTreeFolder2._cleanup`) find nothing wrong.
@Suite struct ContainerEditCompatibilityTests {
    struct Operation: Sendable {
        var folder: String
        var op: String
        var id: String
        var newID: String?

        var json: [String: Any] {
            var out: [String: Any] = ["folder": folder, "op": op, "id": id]
            if let newID { out["new_id"] = newID }
            if op == "add-folder" { out["title"] = "Title of \(id)" }
            if op == "add-file" { out["data"] = Self.body(id) }
            return out
        }

        static func body(_ id: String) -> String { "contents of \(id)\n" }
    }

    static func operations() -> [Operation] {
        var ops: [Operation] = []
        func add(_ folder: String, _ op: String, _ id: String, _ newID: String? = nil) {
            ops.append(Operation(folder: folder, op: op, id: id, newID: newID))
        }
        let many = "many"
        // Splits: 40 keys into one bucket.
        for i in 0 ..< 40 { add(many, "add-file", String(format: "file-04000.txt-%02d", i)) }
        // Emptied buckets in the middle, then at the very start (new firstbucket).
        for i in 15 ..< 75 { add(many, "remove", String(format: "file-%05d.txt", i)) }
        for i in 0 ..< 15 { add(many, "remove", String(format: "file-%05d.txt", i)) }
        add(many, "add-folder", "aaa folder")
        add(many, "rename", "zz sub folder", "zz renamed")
        add(many, "rename", "file-07999.txt", "file-07999.txt.bak")
        add(many, "add-file", "Ωμέγα.txt")
        add(many, "add-file", "E\u{301}.txt")
        add(many, "add-file", "É.txt")

        let small = "small btree"
        for i in 0 ..< 30 { add(small, "add-folder", String(format: "sub-%02d", i)) }
        add(small, "rename", "item1.txt", "renamed.txt")
        for id in ["item0.txt", "item2.txt", "renamed.txt"] { add(small, "remove", id) }

        let empty = "empty btree"
        add(empty, "add-file", "only.txt")
        add(empty, "add-folder", "f")
        add(empty, "rename", "f", "g")

        add("docs", "add-folder", "new sub")
        add("docs", "add-file", "new.txt")
        add("docs", "remove", "readme.txt")
        add("docs", "rename", "page.html", "page-renamed.html")
        add("docs", "rename", "level2", "level-two")
        add("docs", "rename", "new.txt", "newer.txt")
        add("unmapped/empty folder", "add-folder", "first child")
        add("", "add-folder", "zz top folder")
        return ops
    }

    static let fileClass = ClassName(module: "OFS.Image", name: "File")

    /// A File as `manage_addFile(id, file=bytes)` leaves it, enough for Zope
    /// to list and read it (the File writer itself is tested elsewhere).
    static func fileState(_ id: String) -> PickleValue {
        let body = Array(Operation.body(id).utf8)
        return .dict([
            PickleDictEntry(key: .string("__name__"), value: .string(id)),
            PickleDictEntry(key: .string("title"), value: .string("")),
            PickleDictEntry(key: .string("precondition"), value: .string("")),
            PickleDictEntry(key: .string("content_type"), value: .string("text/plain")),
            PickleDictEntry(key: .string("size"), value: .int(Int64(body.count))),
            PickleDictEntry(key: .string("data"), value: .bytes(body)),
        ])
    }

    /// Applies the operations with the editors, reading `dataFS`; returns
    /// the records of the containers (folders, tree nodes, lengths) and of
    /// the children (new ones, renamed ones).
    static func edit(_ ops: [Operation], dataFS: String,
                     fixture: ZopeFixture) throws -> (containers: [ChangedObject], children: [ChangedObject]) {
        let storage = try FileStorage(path: dataFS, readOnly: true)
        defer { storage.close() }
        let loader = ObjectLoader(storage: storage)
        var nextOID = storage.largestOID!.rawValue + 1
        let allocate = { () -> OID in
            defer { nextOID += 1 }
            return OID(nextOID)
        }
        var oids: [String: OID] = ["": OID(UInt64(fixture.manifest.root_oid, radix: 16)!)]
        for entry in fixture.manifest.entries { oids[entry.path] = OID(entry.oidValue) }

        var editors: [String: ContainerEditor] = [:]
        var children: [OID: ChangedObject] = [:]
        var order: [OID] = []
        func record(_ change: ChangedObject) {
            if children[change.oid] == nil { order.append(change.oid) }
            children[change.oid] = change
        }

        for op in ops {
            if editors[op.folder] == nil {
                editors[op.folder] = try ContainerEditor(record: try loader.load(oids[op.folder]!), load: loader.load,
                                                         allocateOID: allocate)
            }
            switch op.op {
            case "add-folder", "add-file":
                let oid = allocate()
                let isFolder = op.op == "add-folder"
                let cls = isFolder ? ZopeFolderState.folderClass : fileClass
                let state = isFolder ? ZopeFolderState.new(id: op.id, title: "Title of \(op.id)") : fileState(op.id)
                record(ChangedObject(oid: oid, objectClass: cls, state: state, previousSerial: nil))
                try editors[op.folder]!.add(op.id, child: .reference(to: oid, objectClass: cls),
                                            metaType: isFolder ? ZopeFolderState.metaType : "File")
            case "remove":
                try editors[op.folder]!.remove(op.id)
            case "rename":
                let oid = PersistentReference(try #require(try editors[op.folder]!.child(op.id)))!.oid
                var child = children[oid]
                if child == nil {
                    let stored = try loader.load(oid)
                    child = ChangedObject(oid: oid, objectClass: stored.objectClass, state: stored.state,
                                          previousSerial: stored.tid)
                }
                child!.state = ObjectIdentity.renamed(child!.state, to: op.newID!)
                record(child!)
                try editors[op.folder]!.rename(op.id, to: op.newID!)
            default:
                Issue.record("unknown operation \(op.op)")
            }
        }
        var changes: [ChangedObject] = []
        for path in editors.keys.sorted() { changes += editors[path]!.changedObjects() }
        return (changes, order.map { children[$0]! })
    }

    /// Pickles the records as ZODB does (class global, then state, one memo).
    static func recordsJSON(_ changes: [ChangedObject]) throws -> Data {
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
        var records: [[String: Any]] = []
        for change in changes {
            var encoder = PickleEncoder()
            try encoder.encode(.global(module: change.objectClass.module, name: change.objectClass.name))
            try encoder.encode(change.state)
            records.append([
                "oid": hex(change.oid.bytes),
                "serial": change.previousSerial.map { hex($0.bytes) } ?? NSNull(),
                "data": hex(encoder.bytes),
            ])
        }
        return try JSONSerialization.data(withJSONObject: records)
    }

    @Test func editsStoredHereReadAsZopesOwn() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let scratch = try ScratchDirectory("zodbfs-container-edits")
        defer { scratch.cleanUp() }
        let zope = scratch.path("zope.fs")
        let ours = scratch.path("ours.fs")
        for target in [zope, ours] {
            try FileManager.default.copyItem(atPath: fixture.dataFS, toPath: target)
            try FileManager.default.copyItem(atPath: fixture.index, toPath: target + ".index")
        }
        let ops = Self.operations()
        let opsPath = scratch.path("ops.json")
        try JSONSerialization.data(withJSONObject: ops.map(\.json)).write(to: URL(fileURLWithPath: opsPath))
        _ = try runPeer("peers/container_edits.py", ["apply", zope, opsPath])

        let (containers, children) = try Self.edit(ops, dataFS: ours, fixture: fixture)
        // Only what the edits touch: never a BTreeFolder2's own record, and
        // the buckets and nodes on the edited paths rather than whole trees
        // ("many" alone has 533 buckets).
        let btreeFolders = Set(fixture.manifest.entries.filter { $0.meta_type == "BTreeFolder2" }.map(\.oidValue))
        #expect(btreeFolders.count == 3)
        #expect(!containers.contains { btreeFolders.contains($0.oid.rawValue) })
        #expect(containers.count <= 40, "\(containers.count) container records")
        let recordsPath = scratch.path("records.json")
        try Self.recordsJSON(containers + children).write(to: URL(fileURLWithPath: recordsPath))
        _ = try runPeer("peers/container_edits.py", ["store", ours, recordsPath])

        let paths = Array(Set(ops.map(\.folder))).sorted()
        let expected = try JSONSerialization.jsonObject(with: runPeer("peers/container_edits.py", ["describe", zope] + paths))
        let actual = try JSONSerialization.jsonObject(with: runPeer("peers/container_edits.py", ["describe", ours] + paths))
        let differences = jsonDifferences(expected, actual, at: "")
        #expect(differences.isEmpty, "\(differences.prefix(20).joined(separator: "\n"))")
        for path in paths {
            let description = (actual as? [String: Any])?[path] as? [String: Any] ?? [:]
            let problems = description["problems"] as? [String] ?? []
            #expect(problems.isEmpty, "\(path): \(problems)")
            let mismatches = description["id_mismatches"] as? [String]
            #expect(mismatches == [], "\(path)")
        }

        let verification = try StoreVerification(dataFS: ours)
        #expect(verification.problems.isEmpty, "\(verification.problems)")
    }
}

/// Where two JSON values differ, as "path: expected ≠ actual" lines.
func jsonDifferences(_ expected: Any, _ actual: Any, at path: String) -> [String] {
    switch (expected, actual) {
    case (let e as [String: Any], let a as [String: Any]):
        var out: [String] = []
        for key in Set(e.keys).union(a.keys).sorted() {
            guard let ev = e[key], let av = a[key] else {
                out.append("\(path)/\(key): present in only one")
                continue
            }
            out += jsonDifferences(ev, av, at: "\(path)/\(key)")
        }
        return out
    case (let e as [Any], let a as [Any]):
        if e.count != a.count { return ["\(path): \(e.count) elements ≠ \(a.count)"] }
        return zip(e, a).enumerated().flatMap { jsonDifferences($0.element.0, $0.element.1, at: "\(path)[\($0.offset)]") }
    default:
        let e = "\(expected)"
        let a = "\(actual)"
        // Code points, as Python compares: `==` would equate canonical equivalents.
        return e.utf8.elementsEqual(a.utf8) ? [] : ["\(path): \(e) ≠ \(a)"]
    }
}
