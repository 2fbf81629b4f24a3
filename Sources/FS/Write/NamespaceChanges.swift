#if canImport(Glibc)
import Glibc
#endif
import OFS
import Storage
import ZODB

/// mkdir, unlink, rmdir, rename: each one transaction on the folders
/// concerned (DESIGN.md "Write path"), built by ``ContainerEdit`` the way
/// Zope's ObjectManager and BTreeFolder2 would leave them.
///
/// Removing a name removes the reference only, as Zope's `_delObject` does:
/// the object's records stay in Data.fs until a pack finds them unreachable,
/// and handles open on it keep reading.
extension ZODBFilesystem {
    public func mkdir(parent: InodeNumber, name: String, mode: UInt32) throws(FSError) -> EntryReply {
        try counting { () throws(FSError) -> EntryReply in
            let writer = try writable()
            let parentOID = try directoryOID(parent)
            try validateNewName(name, in: parentOID)
            let oid = try writer.newOIDs(1)[0]
            var metadata = MetadataChange()
            if mode & 0o7777 != 0o755 { metadata.mode = mode & 0o7777 }
            var written: [PendingRecord] = []
            var rewritten: [OID: ObjectRecord] = [:]
            let started = ContinuousClock.now
            let result = try writer.committer.commit("zodbfs: mkdir \(name)") { () throws(FSError) -> [PendingRecord] in
                rewritten = [:]
                let state = applyPosix(metadata, to: ZopeFolderState.new(id: name), bodyChanged: false)
                var records = [PendingRecord(oid: oid, expectedSerial: nil,
                                             segments: [.bytes(try encodeNew(ZopeFolderState.folderClass, state: state))])]
                records += try containerRecords(parent: parentOID, rewritten: &rewritten, changes: [
                    .add(name: name, oid: oid, objectClass: ZopeFolderState.folderClass, metaType: "Folder"),
                ])
                written = records
                return records
            }
            committed(written, result: result, started: started, rewritten: rewritten, listings: [
                parentOID: [.add(name: name, oid: oid, objectClass: ZopeFolderState.folderClass, metaType: "Folder")],
            ])
            let reply = entry(attributes(of: try node(oid)))
            countLookup(reply.attributes.inode)
            return reply
        }
    }

    public func unlink(parent: InodeNumber, name: String) throws(FSError) {
        try counting { () throws(FSError) in
            let writer = try writable()
            let parentOID = try directoryOID(parent)
            if let pending = openFiles.pendingChild(parent: parentOID, name: name) {
                pending.state.withLock { $0.unlinked = true }
                openFiles.removePending(parent: parentOID, name: name)
                return
            }
            let child = try existingChild(name, in: parentOID)
            guard !child.node.isDirectory else { throw .isADirectory }
            try commitContainerChange("zodbfs: unlink \(name)", writer: writer, parent: parentOID,
                                      changes: [.remove(name: name)])
            markUnlinked(child.entry.oid)
        }
    }

    public func rmdir(parent: InodeNumber, name: String) throws(FSError) {
        try counting { () throws(FSError) in
            let writer = try writable()
            let parentOID = try directoryOID(parent)
            let child = try existingChild(name, in: parentOID)
            guard case .directory(let entries, _) = child.node.content else { throw .notADirectory }
            guard entries.isEmpty, !openFiles.hasPendingChildren(child.entry.oid) else { throw .directoryNotEmpty }
            try commitContainerChange("zodbfs: rmdir \(name)", writer: writer, parent: parentOID,
                                      changes: [.remove(name: name)])
        }
    }

    /// `RENAME_NOREPLACE` is honoured; `RENAME_EXCHANGE` (swapping two
    /// names) is refused with EINVAL: Zope has no atomic swap, and no tool
    /// users run on this mount relies on it.
    public func rename(parent: InodeNumber, name: String, newParent: InodeNumber, newName: String,
                       flags: UInt32) throws(FSError) {
        try counting { () throws(FSError) in
            let noReplace: UInt32 = 1
            guard flags & ~noReplace == 0 else {
                throw .invalidArgument("rename flags \(flags): only RENAME_NOREPLACE is supported")
            }
            let writer = try writable()
            let sourceOID = try directoryOID(parent)
            let targetOID = try directoryOID(newParent)
            if sourceOID == targetOID && name == newName { return }

            // What the new name holds now, which the rename replaces.
            let pendingTarget = openFiles.pendingChild(parent: targetOID, name: newName)
            let storedTarget = try? existingChild(newName, in: targetOID)
            if (pendingTarget != nil || storedTarget != nil) && flags & noReplace != 0 { throw .exists }
            try validateName(newName, in: targetOID, replacing: pendingTarget != nil || storedTarget != nil)

            if let pending = openFiles.pendingChild(parent: sourceOID, name: name) {
                // Not in the store yet: the rename is the mount's alone, plus
                // the removal of a stored file it replaces.
                if let storedTarget {
                    guard !storedTarget.node.isDirectory else { throw .isADirectory }
                    try commitContainerChange("zodbfs: rename \(name) over \(newName)", writer: writer,
                                              parent: targetOID, changes: [.remove(name: newName)])
                    markUnlinked(storedTarget.entry.oid)
                }
                replacePending(pendingTarget, parent: targetOID, name: newName)
                pending.state.withLock { $0.origin = .pending(parent: targetOID, name: newName) }
                openFiles.removePending(parent: sourceOID, name: name)
                openFiles.addPending(pending, parent: targetOID, name: newName)
                return
            }

            let source = try existingChild(name, in: sourceOID)
            if let storedTarget {
                switch (source.node.isDirectory, storedTarget.node.isDirectory) {
                case (true, false): throw .notADirectory
                case (false, true): throw .isADirectory
                case (true, true):
                    if case .directory(let entries, _) = storedTarget.node.content, !entries.isEmpty {
                        throw .directoryNotEmpty
                    }
                default: break
                }
            }
            let metaType = source.entry.metaType ?? nodes.metaType(of: source.entry.oid) ?? source.node.object.metaType
            let retyped = try contentTypeAfterRename(source.node, from: name, to: newName)
            let objectClass = source.node.object.record.objectClass
            var written: [PendingRecord] = []
            var rewritten: [OID: ObjectRecord] = [:]
            var listings: [OID: [ContainerChange]] = [:]
            let started = ContinuousClock.now
            let result = try writer.committer.commit("zodbfs: rename \(name) to \(newName)") { () throws(FSError) -> [PendingRecord] in
                rewritten = [:]
                let current = try loadRecord(source.entry.oid)
                var state = ObjectIdentity.renamed(current.state, to: newName)
                if let retyped { state = state.settingEntry("content_type", to: .string(retyped)) ?? state }
                var records = [PendingRecord(oid: current.oid, expectedSerial: current.tid,
                                             segments: [.bytes(try encode(current, state: state))])]
                let replaced: [ContainerChange] = storedTarget == nil ? [] : [.remove(name: newName)]
                if sourceOID == targetOID {
                    listings = [sourceOID: replaced + [.rename(from: name, to: newName)]]
                } else {
                    listings = [sourceOID: [.remove(name: name)],
                                targetOID: replaced + [.add(name: newName, oid: source.entry.oid,
                                                            objectClass: objectClass, metaType: metaType)]]
                }
                for (parent, changes) in listings.sorted(by: { $0.key < $1.key }) {
                    records += try containerRecords(parent: parent, rewritten: &rewritten, changes: changes)
                }
                written = records
                return records
            }
            committed(written, result: result, started: started, rewritten: rewritten, listings: listings)
            if let storedTarget { markUnlinked(storedTarget.entry.oid) }
            replacePending(pendingTarget, parent: targetOID, name: newName)
        }
    }

    /// The content type a renamed file should get: when its type is what
    /// Zope guesses for the old name, the guess for the new one. Tools that
    /// write a temporary name and rename it into place (rsync, editors)
    /// would otherwise leave every file `application/octet-stream`. A type
    /// set on purpose (by Zope or `user.zope.content_type`) is kept.
    private func contentTypeAfterRename(_ node: Node, from: String, to: String) throws(FSError) -> String? {
        guard case .file(let file) = node.content, let stored = file.contentType else { return nil }
        let head: [UInt8]
        switch file.body {
        case .inline(let bytes):
            head = Array(bytes.prefix(8192))
        case .chain(let first):
            let table = chunkTable(for: file, first: first)
            head = try table.read(offset: 0, length: 8192, storage: storage).assembled(path: storage.name)
        }
        guard stored == ContentTypeGuess.contentType(name: from, body: head) else { return nil }
        let fresh = ContentTypeGuess.contentType(name: to, body: head)
        return fresh == stored ? nil : fresh
    }

    /// A stored child by name, with its decoded node.
    func existingChild(_ name: String, in parent: OID) throws(FSError) -> (entry: DirectoryEntry, node: Node) {
        let dir = try node(parent)
        guard let entry = dir.child(named: name) else { throw .notFound }
        return (entry, try node(entry.oid))
    }

    /// A file open for writing whose name went away stops committing.
    private func markUnlinked(_ oid: OID) {
        openFiles.file(inodes.inode(for: oid))?.state.withLock { $0.unlinked = true }
    }

    private func replacePending(_ file: OpenFile?, parent: OID, name: String) {
        guard let file else { return }
        file.state.withLock { $0.unlinked = true }
        openFiles.removePending(parent: parent, name: name)
    }

    private func commitContainerChange(_ description: String, writer: StoreWriter, parent: OID,
                                       changes: [ContainerChange]) throws(FSError) {
        var written: [PendingRecord] = []
            var rewritten: [OID: ObjectRecord] = [:]
        let started = ContinuousClock.now
        let result = try writer.committer.commit(description) { () throws(FSError) -> [PendingRecord] in
                rewritten = [:]
            written = try containerRecords(parent: parent, rewritten: &rewritten, changes: changes)
            return written
        }
        committed(written, result: result, started: started, rewritten: rewritten, listings: [parent: changes])
    }
}
