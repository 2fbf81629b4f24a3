#if canImport(Glibc)
import Glibc
#endif
import Logging
import OFS
import Pickle
import Storage
import ZODB

/// What a writable mount has that a read-only one lacks: the committer and
/// the spool. Its existence is the mount's permission to write.
struct StoreWriter: Sendable {
    let storage: any ObjectStorage
    let committer: Committer
    let spool: SpoolDirectory

    func newOIDs(_ count: Int) throws(FSError) -> [OID] {
        do { return try storage.newOIDs(count) } catch { throw .storage(error) }
    }
}

extension ZODBFilesystem {
    /// The writer, or EROFS on a read-only mount.
    func writable() throws(FSError) -> StoreWriter {
        guard let writer else { throw .readOnly }
        return writer
    }

    var spool: SpoolDirectory? { writer?.spool }

    func now() -> Double { Timestamp.now.timeInterval }

    /// The oid of a folder inode that can hold new children.
    func directoryOID(_ inode: InodeNumber) throws(FSError) -> OID {
        if ControlNode(inode: inode) != nil { throw .notPermitted }
        guard let oid = inodes.oid(for: inode) else { throw .notFound }
        guard try node(oid).isDirectory else { throw .notADirectory }
        return oid
    }

    /// A name Zope can hold in that folder (``ObjectIdValidation``):
    /// EINVAL with Zope's reason if not, EEXIST if it is taken (unless
    /// `replacing`, for a rename over an existing child).
    func validateName(_ name: String, in parent: OID, replacing: Bool = false) throws(FSError) {
        guard name.utf8.count <= 255 else { throw .nameTooLong }
        if inodes.inode(for: parent) == .root && name == ControlNode.folderName { throw .notPermitted }
        let folder = try node(parent)
        guard case .directory(let directory) = folder.object else { throw .notADirectory }
        let record = directory.record
        // The root mapping of a database without a Zope application.
        if case .mapping = directory.children { throw .notPermitted }
        do throws(InvalidObjectID) {
            if replacing {
                try ObjectIdValidation.checkName(name)
                return
            }
            switch directory.children {
            case .objectManager:
                try ObjectIdValidation.check(name, objectManagerState: record.state, objectClass: record.objectClass)
            case .btree:
                try ObjectIdValidation.check(name, btreeFolderState: record.state, objectClass: record.objectClass,
                                             isChild: folder.child(named: name) != nil)
            case .mapping:
                return
            }
        } catch {
            if error.reason == .alreadyInUse { throw .exists }
            throw .invalidArgument(error.description)
        }
    }

    /// As ``validateName(_:in:replacing:)``, and the name must be free (EEXIST).
    func validateNewName(_ name: String, in parent: OID) throws(FSError) {
        let folder = try node(parent)
        if openFiles.pendingChild(parent: parent, name: name) != nil || folder.child(named: name) != nil {
            throw .exists
        }
        try validateName(name, in: parent)
    }

    /// The current revision of `oid`: what a change is built on, and (its
    /// tid) the serial the change expects. The node cache's record serves
    /// while its serial is the store's current one — after a commit it holds
    /// the records written (see `committed`), so a folder that takes one new
    /// file per commit (`tar x`, `cp -r`) is not decoded again from the bytes
    /// this process just wrote, a fifth of such a commit's work.
    func loadRecord(_ oid: OID) throws(FSError) -> ObjectRecord {
        if let record = nodes.cached(oid)?.object.record, (try? storage.currentSerial(oid)) == record.tid {
            return record
        }
        do { return try loader.load(oid) } catch { throw FSError(error) }
    }

    /// ``loadRecord(_:)`` as of transaction `snapshot`
    /// (``ObjectLoader/load(_:asOf:)``).
    func loadRecord(_ oid: OID, asOf snapshot: TID) throws(FSError) -> ObjectRecord {
        let current = try loadRecord(oid)
        do { return try loader.revision(of: current, asOf: snapshot) } catch { throw FSError(error) }
    }

    /// `record` with a new state, in the record format ZODB writes.
    func encode(_ record: ObjectRecord, state: PickleValue) throws(FSError) -> [UInt8] {
        var changed = record
        changed.state = state
        do { return try RecordEncoder.encode(changed) } catch { throw .corruptObject("cannot re-encode \(record.oid): \(error)") }
    }

    /// A record for a new object of `objectClass`.
    func encodeNew(_ objectClass: ClassName, state: PickleValue) throws(FSError) -> [UInt8] {
        do { return try RecordEncoder.encode(objectClass: objectClass, state: state) } catch {
            throw .corruptObject("cannot encode a new \(objectClass): \(error)")
        }
    }

    /// `state` with chmod/utimens changes applied. A changed body or
    /// listing drops a stored mtime, so the commit's tid is the mtime again.
    func applyPosix(_ change: MetadataChange, to state: PickleValue, bodyChanged: Bool) -> PickleValue {
        var state = state
        if let mode = change.mode {
            state = state.settingEntry(PosixAttributes.modeKey, to: .int(Int64(mode))) ?? state
        }
        if let time = change.modificationTime {
            state = state.settingEntry(PosixAttributes.mtimeKey, to: .float(time)) ?? state
        } else if bodyChanged, state[PosixAttributes.mtimeKey] != nil {
            state = state.settingEntry(PosixAttributes.mtimeKey, to: nil) ?? state
        }
        return state
    }

    /// After a commit: drop what the transaction made stale and count it.
    /// `listings` are the folder changes it made: cached listings of those
    /// folders are patched rather than dropped, so the next `lookup` in a
    /// 10,000-item BTreeFolder2 does not decode its 600 buckets again.
    /// `rewritten` are plain folders' new records: their nodes are rebuilt
    /// from them (no storage read, no decode) if nothing newer landed since.
    /// Neither when the server resolved a conflict of the transaction: the
    /// store then holds another client's change too (its new child in the
    /// same bucket), which a patch would leave out until that client's
    /// invalidation is polled; the nodes are dropped and read again.
    func committed(_ records: [PendingRecord], result: CommitResult, started: ContinuousClock.Instant,
                   rewritten: [OID: ObjectRecord] = [:], listings: [OID: [ContainerChange]] = [:]) {
        let oids = records.map(\.oid)
        var written: [OID: TID?] = [:]
        for record in records { written[record.oid] = record.expectedSerial }
        let rewritten = result.resolved.isEmpty ? rewritten : [:]
        let listings = result.resolved.isEmpty ? listings : [:]
        var rebuilt: [Node] = []
        for record in rewritten.values {
            var record = record
            record.tid = result.tid
            if let node = try? Node.build(record, loader: loader) { rebuilt.append(node) }
        }
        nodes.apply(written: written, tid: result.tid, listings: listings, rebuilt: rebuilt) { [storage] oid in
            (try? storage.currentSerial(oid)) == result.tid
        }
        dropChunkTables(oids)
        let elapsed = started.duration(to: .now)
        let bytes = result.length
        stats.recordCommit(bytes: bytes, seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        logger.info("commit", metadata: [
            "tid": "0x\(result.tid)", "objects": "\(records.count)", "bytes": "\(bytes)",
            "ms": "\(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)",
        ])
    }
}

extension Timestamp {
    static var now: Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(seconds: Int64(spec.tv_sec), nanoseconds: Int32(spec.tv_nsec))
    }
}
