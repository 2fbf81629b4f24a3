#if canImport(Glibc)
import Glibc
#endif
import Foundation
import OFS
import Pickle
import Storage
import ZODB

/// create, open for writing, write, flush, fsync, release (DESIGN.md "Write
/// path"): bytes go to the handle's spool; `flush` (every `close`) and
/// `fsync` commit the file as one transaction and return once it is
/// durable; a failed commit fails that `close` and leaves the store as it was.
extension ZODBFilesystem {
    public func create(parent: InodeNumber, name: String, mode: UInt32, flags: Int32) throws(FSError) -> (EntryReply, OpenReply) {
        try counting { () throws(FSError) -> (EntryReply, OpenReply) in
            let writer = try writable()
            let parentOID = try directoryOID(parent)
            try validateNewName(name, in: parentOID)
            let oid = try writer.newOIDs(1)[0]
            let inode = inodes.inode(for: oid)
            let file = try openFiles.attach(inode) { () throws(FSError) -> OpenFile in
                let file = OpenFile.pending(oid: oid, inode: inode, parent: parentOID, name: name, now: now())
                file.state.withLock { $0.pendingMetadata.mode = mode & 0o7777 == 0o644 ? nil : mode & 0o7777 }
                return file
            }
            openFiles.addPending(file, parent: parentOID, name: name)
            stats.opens.add(1, ordering: .relaxed)
            stats.openHandles.add(1, ordering: .relaxed)
            let handle = handles.insert(.writable(file))
            countLookup(inode)
            return (entry(attributes(of: file)),
                    OpenReply(handle: handle, keepCache: false, directIO: OpenReply.writeOnlyBypassesCache(flags)))
        }
    }

    /// `open` for writing (or with O_TRUNC) of a stored file, or of one
    /// already open for writing (`existing`). When the last handle on
    /// `existing` goes away before this one is attached, the file is opened
    /// as stored (its close committed it, or it is gone: ENOENT).
    func openForWriting(_ inode: InodeNumber, oid: OID, node: Node? = nil, flags: Int32,
                        existing: OpenFile? = nil) throws(FSError) -> OpenReply {
        _ = try writable()
        if existing == nil {
            switch node?.content {
            case .file?: break
            case .directory?: throw .isADirectory
            default: throw .accessDenied
            }
        }
        let file = try openFiles.attach(inode) { () throws(FSError) -> OpenFile in
            let current: Node
            if let node { current = node } else { current = try self.node(oid) }
            guard case .file(let stored) = current.content else { throw current.isDirectory ? .isADirectory : .accessDenied }
            var table: ChunkTable?
            if case .chain(let first) = stored.body { table = chunkTable(for: stored, first: first) }
            return OpenFile.stored(stored, inode: inode, table: table, now: now())
        }
        if flags & O_TRUNC != 0 {
            do {
                try file.state.withLock { (s: inout OpenFile.State) throws(FSError) in try s.truncate(to: 0, now: now()) }
            } catch {
                if let dropped = openFiles.detach(inode) { dropped.state.withLock { $0.spool?.close(); $0.spool = nil } }
                throw error
            }
        }
        stats.openHandles.add(1, ordering: .relaxed)
        // Pages cached for the stored revision stay valid until written over:
        // the kernel updates them on a write through its cache, and drops
        // those a direct write covers. A reader that opened the stored
        // revision before this writer reads its own snapshot from the mount
        // and sees these writes only in the kernel's pages: keep the cache.
        // (Readers opening from now on share `file`.)
        let bypass = OpenReply.writeOnlyBypassesCache(flags) && !handles.pinsRevision(inode)
        return OpenReply(handle: handles.insert(.writable(file)), keepCache: true, directIO: bypass)
    }

    public func write(_ inode: InodeNumber, handle: UInt64, offset: UInt64,
                      bytes: UnsafeRawBufferPointer) throws(FSError) -> Int {
        stats.writes.add(1, ordering: .relaxed)
        return try counting { () throws(FSError) -> Int in
            let body = handles.body(handle)
            if case .command(let node)? = body { return try command(node, bytes: bytes) }
            guard case .writable(let file)? = body else { throw .badHandle }
            guard let spool else { throw .readOnly }
            try file.state.withLock { (s: inout OpenFile.State) throws(FSError) in
                try s.write(bytes, at: offset, spoolDirectory: spool, now: now())
            }
            stats.bytesWritten.add(UInt64(bytes.count), ordering: .relaxed)
            return bytes.count
        }
    }

    /// Every `close` of a descriptor: commit what it wrote.
    public func flush(_ inode: InodeNumber, handle: UInt64) throws(FSError) {
        try counting { () throws(FSError) in
            guard case .writable(let file)? = handles.body(handle) else { return }
            do throws(FSError) {
                try commit(file, reassertingOverOthers: true)
            } catch {
                // The caller sees only an errno: the reason goes to the log.
                logger.warning("commit of \(file.oid) failed: \(error)")
                throw error
            }
        }
    }

    /// As on a disk, `fsync` through any descriptor makes the file's
    /// changes durable, also one opened for reading while another writes.
    public func fsync(_ inode: InodeNumber, handle: UInt64) throws(FSError) {
        try counting { () throws(FSError) in
            switch handles.body(handle) {
            case .writable(let file)?, .reading(let file)?: try commit(file)
            default: return
            }
        }
    }

    /// Commits `file` if it changed since its last commit: one transaction
    /// with its new or changed `Pdata` links, the File record and — for a
    /// new file — its folder. Returns once the transaction is durable.
    ///
    /// With `reassertingOverOthers` (a close), also when it did not change
    /// since but another client replaced it after that commit (see
    /// ``replacedByAnotherClient(_:oid:)``).
    func commit(_ file: OpenFile, reassertingOverOthers: Bool = false) throws(FSError) {
        let writer = try writable()
        try file.state.withLock { (s: inout OpenFile.State) throws(FSError) in
            guard !s.unlinked else { return }
            if !s.modified {
                guard reassertingOverOthers, replacedByAnotherClient(s, oid: file.oid) else { return }
                logger.info("\(file.oid) was replaced by another client while open here: its close writes it again")
                s.modified = true
            }
            let started = ContinuousClock.now
            let body = try BodyCommit.plan(s, storage: storage, newOIDs: writer.newOIDs)
            let state = s
            let what: String
            switch s.origin {
            case .pending(_, let name): what = name
            case .stored: what = "\(file.oid)"
            }
            var written: [PendingRecord] = []
            var rewritten: [OID: ObjectRecord] = [:]
            let result = try writer.committer.commit("zodbfs: write \(what)") { () throws(FSError) -> [PendingRecord] in
                rewritten = [:]
                var records = body.records
                switch state.origin {
                case .stored:
                    let current = try loadRecord(file.oid)
                    var fields = ZopeFileState.Update(size: state.size, data: body.data.fileData)
                    fields.contentType = state.pendingMetadata.contentType
                    fields.title = state.pendingMetadata.title
                    var newState: PickleValue
                    do {
                        newState = try ZopeFileState.updated(current.state, with: fields)
                    } catch {
                        throw .corruptObject("\(file.oid): \(error)")
                    }
                    newState = applyPosix(state.pendingMetadata, to: newState, bodyChanged: true)
                    records.append(PendingRecord(oid: file.oid, expectedSerial: current.tid,
                                                 segments: [.bytes(try encode(current, state: newState))]))
                case .pending(let parent, let name):
                    let head = try state.read(0..<min(state.size, 8192), storage: storage)
                    let contentType = state.pendingMetadata.contentType
                        ?? ContentTypeGuess.contentType(name: name, body: head)
                    var newState = ZopeFileState.new(id: name, title: state.pendingMetadata.title ?? "",
                                                     contentType: contentType, size: state.size,
                                                     data: body.data.fileData)
                    newState = applyPosix(state.pendingMetadata, to: newState, bodyChanged: true)
                    records.append(PendingRecord(oid: file.oid, expectedSerial: nil,
                                                 segments: [.bytes(try encodeNew(ZopeFileState.fileClass, state: newState))]))
                    records += try containerRecords(parent: parent, rewritten: &rewritten, changes: [
                        .add(name: name, oid: file.oid, objectClass: ZopeFileState.fileClass, metaType: "File"),
                    ])
                }
                written = records
                return records
            }
            // The body is in the store now: the next commit edits this revision.
            switch body.data {
            case .inline(let bytes):
                s.base = .inline(bytes)
            case .chain(let first):
                s.base = .chain(ChunkTable(oid: file.oid, revision: result.tid, size: s.size, first: first),
                                links: body.committed(tid: result.tid))
            }
            s.baseSize = s.size
            s.baseValidEnd = s.size
            s.written = ExtentSet()
            try? s.spool?.truncate(to: 0)
            s.modified = false
            s.serial = result.tid
            s.pendingMetadata = MetadataChange()
            if case .pending(let parent, let name) = s.origin {
                openFiles.removePending(parent: parent, name: name)
                s.origin = .stored
            }
            var listings: [OID: [ContainerChange]] = [:]
            if case .pending(let parent, let name) = state.origin {
                listings[parent] = [.add(name: name, oid: file.oid, objectClass: ZopeFileState.fileClass, metaType: "File")]
            }
            committed(written, result: result, started: started, rewritten: rewritten, listings: listings)
        }
    }

    /// True when another client committed the File after this open file's
    /// last commit, and this open file was written since it was opened.
    ///
    /// A close always commits a changed file, so the handle's content lands
    /// last when it was still changing. But every `close` of a descriptor
    /// commits, including a forked child's close of one it inherited; when
    /// another client's version then lands before the owner's own close,
    /// that close finds nothing changed. It commits the File again, pointing
    /// at the body it committed: only the File record is written, the
    /// other client's title and content type stay. Not when a link of that
    /// body changed since (another zodbfs mount edited it in place; Zope
    /// never does): the body is no longer this file's, and the other
    /// client's version stands. Only a storage with other writers (ZEO)
    /// can see this.
    private func replacedByAnotherClient(_ s: OpenFile.State, oid: OID) -> Bool {
        guard s.changedSinceOpen, storage.seesOtherWriters, case .stored = s.origin, let ours = s.serial,
              let current = try? storage.currentSerial(oid), current != ours else { return false }
        if case .chain(_, let links) = s.base {
            guard let links else { return false }
            for link in links where (try? storage.currentSerial(link.oid)) != link.serial { return false }
        }
        return true
    }

    public func release(_ inode: InodeNumber, handle: UInt64) {
        guard let body = handles.remove(handle) else { return }
        stats.openHandles.subtract(1, ordering: .relaxed)
        switch body {
        case .writable, .reading: break
        default: return
        }
        guard let file = openFiles.detach(inode) else { return }
        // A body still modified here failed its commit at close (the caller
        // was told) or was unlinked: it is dropped, never committed later.
        let dropped = file.state.withLock { s -> (OpenFile.Origin, Bool)? in
            s.spool?.close()
            s.spool = nil
            return s.modified && !s.unlinked ? (s.origin, true) : nil
        }
        guard let (origin, _) = dropped else { return }
        // The kernel cached what was written (names, size, pages): make it
        // ask again, from another thread — this runs inside a request.
        logger.warning("dropped uncommitted changes of \(file.oid) after a failed commit")
        let kernel = invalidator
        let inode = file.inode
        var entry: (InodeNumber, String)?
        if case .pending(let parent, let name) = origin {
            openFiles.removePending(parent: parent, name: name)
            entry = (inodes.inode(for: parent), name)
        }
        let name = entry
        Thread.detachNewThread {
            kernel?.invalidateInode(inode)
            if let name { kernel?.invalidateEntry(parent: name.0, name: name.1) }
        }
    }

    /// Attributes of a file open for writing: its current size, and the
    /// time of its last change while that change is not committed.
    func attributes(of file: OpenFile) -> FileAttributes {
        let s = file.state.withLock { $0 }
        let stored = s.serial.flatMap { _ in try? node(file.oid) }
        var attributes = stored.map { self.attributes(of: $0) } ?? FileAttributes(
            inode: file.inode, kind: .regular, permissions: 0o644, size: 0, linkCount: 1,
            uid: options.uid, gid: options.gid, modificationTime: Timestamp(s.changeTime))
        attributes.size = s.size
        if s.modified {
            let time = Timestamp(s.pendingMetadata.modificationTime ?? s.changeTime)
            attributes.modificationTime = time
            attributes.changeTime = time
        }
        if let mode = s.pendingMetadata.mode { attributes.permissions = mode }
        return attributes
    }
}

extension BodyCommit.Data {
    var fileData: ZopeFileState.Data {
        switch self {
        case .inline(let bytes): return .inline(bytes)
        case .chain(let first): return .chain(first: first)
        }
    }
}
