import OFS
import Pickle
import Storage
import ZODB

/// One change to a folder's children.
enum ContainerChange: Sendable {
    case add(name: String, oid: OID, objectClass: ClassName, metaType: String)
    case remove(name: String)
    case rename(from: String, to: String)
}

/// The records that change a folder's children, as Zope's ObjectManager
/// (`_objects` plus one attribute per child) or BTreeFolder2 (`_tree`,
/// `_count`, `_mt_index`) would leave them: ``FolderEditor`` and
/// ``BTreeFolderEditor`` do the object work, this turns their result into
/// records that expect the serials they were built on.
extension ZODBFilesystem {
    /// - Parameter rewritten: receives the new record of a plain folder
    ///   (its listing is its record), for ``committed(_:result:started:rewritten:listings:)``.
    func containerRecords(parent: OID, rewritten: inout [OID: ObjectRecord],
                          changes: [ContainerChange]) throws(FSError) -> [PendingRecord] {
        let writer = try writable()
        // Every node of the folder's trees as of one transaction (see
        // ObjectLoader.load(_:asOf:)); the records written expect those
        // revisions, so a change another client made meanwhile conflicts.
        let snapshot = storage.lastTransaction
        let record = try loadRecord(parent, asOf: snapshot)
        guard case .directory(let directory) = ZopeObject(record: record) else { throw .notADirectory }
        if case .mapping = directory.children { throw .notPermitted }
        let allocation = OIDAllocation(writer: writer)
        var changed: [ChangedObject] = []
        do throws(ContainerEditError) {
            switch directory.children {
            case .objectManager:
                var editor = try FolderEditor(folder: record)
                for change in changes {
                    switch change {
                    case .add(let name, let oid, let objectClass, let metaType):
                        try editor.add(name, child: .reference(to: oid, objectClass: objectClass), metaType: metaType)
                    case .remove(let name):
                        _ = try editor.remove(name)
                    case .rename(let from, let to):
                        try editor.rename(from, to: to)
                    }
                }
                if var folder = editor.changedObject {
                    // New children: the folder's mtime is this commit's again.
                    folder.state = applyPosix(MetadataChange(), to: folder.state, bodyChanged: true)
                    changed.append(folder)
                    var updated = record
                    updated.state = folder.state
                    rewritten[parent] = updated
                }
            case .btree:
                var editor = try BTreeFolderEditor(
                    folder: record,
                    load: { [loader] (oid: OID) throws(RecordError) -> ObjectRecord in try loader.load(oid, asOf: snapshot) },
                    allocateOID: allocation.next)
                for change in changes {
                    switch change {
                    case .add(let name, let oid, let objectClass, let metaType):
                        try editor.add(name, child: .reference(to: oid, objectClass: objectClass), metaType: metaType)
                    case .remove(let name):
                        try editor.remove(name)
                    case .rename(let from, let to):
                        try editor.rename(from, to: to)
                    }
                }
                changed = editor.changedObjects()
                if record.state[PosixAttributes.mtimeKey] != nil {
                    changed.append(ChangedObject(
                        oid: record.oid, objectClass: record.objectClass,
                        state: applyPosix(MetadataChange(), to: record.state, bodyChanged: true),
                        previousSerial: record.tid))
                }
            case .mapping:
                break
            }
        } catch .noSuchChild {
            throw .notFound
        } catch .invalidID(let invalid) {
            throw invalid.reason == .alreadyInUse ? .exists : .invalidArgument(invalid.description)
        } catch .record(let error) {
            throw FSError(error)
        } catch {
            throw .corruptObject("\(error)")
        }
        try allocation.check()
        var records: [PendingRecord] = []
        for object in changed {
            let bytes: [UInt8]
            if object.oid == record.oid {
                bytes = try encode(record, state: object.state)
            } else {
                bytes = try encodeNew(object.objectClass, state: object.state)
            }
            records.append(PendingRecord(oid: object.oid, expectedSerial: object.previousSerial, segments: [.bytes(bytes)]))
        }
        return records
    }
}

/// Hands out oids to a BTree edit that splits nodes. The editor's
/// allocator cannot throw, so a failure (a closed storage) is kept and
/// reported after the edit.
private final class OIDAllocation: Sendable {
    let writer: StoreWriter
    let failure = Guarded<FSError?>(nil)

    init(writer: StoreWriter) {
        self.writer = writer
    }

    func next() -> OID {
        do {
            return try writer.newOIDs(1)[0]
        } catch {
            failure.withLock { $0 = error }
            return .root
        }
    }

    func check() throws(FSError) {
        if let error = failure.withLock({ $0 }) { throw error }
    }
}
