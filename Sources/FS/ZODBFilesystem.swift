#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import OFS
import Storage
import ZODB

/// The filesystem: every FUSE operation is one method here, computed
/// without libfuse so it can be tested in-process. The FUSE bridge decodes
/// a request, calls one method, and replies with the value or `FSError.errno`.
///
/// Concurrency: methods are called at once from libfuse's worker threads
/// and from the follower thread. State lives in small, independently locked
/// tables — decoded nodes (`NodeCache`), chunk tables, open handles, kernel
/// lookup counts — none held across storage I/O except a chunk table's own
/// lock while it walks its chain. The storage itself reads with `pread` and
/// guards its index internally. There is no global lock on the read path,
/// and none on the write path either: files open for writing have their own
/// locks (``OpenFile``), and changes are committed optimistically
/// (``Committer``), meeting only in the storage's commit lock.
public final class ZODBFilesystem: Sendable {
    public struct Options: Sendable {
        public var readOnly: Bool = true
        public var uid: UInt32 = getuid()
        public var gid: UInt32 = getgid()
        /// Permission bits taken away from every node (`-o umask=022`).
        public var umask: UInt32 = 0
        /// A folder below the mount root to mount instead (`--root /a/b`).
        public var rootPath: String = ""
        public var attributeTimeout: Double = 1.0
        public var entryTimeout: Double = 1.0
        /// Watch Data.fs for transactions appended by another process.
        public var follow: Bool = true
        /// Seconds between checks for appended transactions.
        public var followInterval: Double = 0.2
        /// Where writes are spooled until their commit; nil: `Data.fs.spool`
        /// beside a FileStorage.
        public var spoolPath: String?
        public var logger = Logger(label: "zodbfs")
        public init() {}
    }

    public let storage: any ObjectStorage
    public let options: Options
    public let inodes: InodeMap
    let loader: ObjectLoader
    let nodes = NodeCache()
    let handles = FileHandleTable()
    let stats = Statistics()
    /// Nil on a read-only mount.
    let writer: StoreWriter?
    let openFiles = OpenFileTable()
    var logger: Logger { options.logger }
    private let chunkTables = Guarded<[OID: ChunkTable]>([:])
    /// Lookup count per inode the kernel holds (lookup and readdirplus add, forget subtracts).
    private let kernelLookups = Guarded<[InodeNumber: UInt64]>([:])
    /// The revision whose pages the kernel may still cache, per file.
    private let kernelCachedRevision = Guarded<[OID: TID]>([:])
    private let invalidatorBox = Guarded<KernelInvalidator?>(nil)
    private let follower = Guarded<Follower?>(nil)
    /// What `.zodbfs/pack` and `.zodbfs/backup` run; see ``install(_:as:)``.
    let jobsTable = Guarded<[ControlNode: any ControlJob]>([:])
    /// What `mount` was given, shown by `.zodbfs/info`.
    private let rootDescription: String
    /// Whether the kernel may keep written pages and trust its own file
    /// sizes (FUSE's writeback cache): only when no other client changes
    /// the store, so sizes the kernel cached cannot go stale under it.
    public var kernelMayCacheWrites: Bool { !options.readOnly && !storage.seesOtherWriters }

    public init(storage: any ObjectStorage, options: Options) throws(FSError) {
        self.storage = storage
        self.options = options
        let loader = ObjectLoader(storage: storage)
        self.loader = loader
        var rootOID = try Self.mountRoot(loader: loader)
        var walked = ""
        for component in options.rootPath.split(separator: "/") where !component.isEmpty {
            let node = try Node.load(rootOID, loader: loader)
            guard node.isDirectory else { throw .invalidArgument("--root: \(walked)/\(component) is not a folder") }
            guard let child = node.child(named: String(component)) else {
                throw .invalidArgument("--root: no folder \(walked)/\(component)")
            }
            walked += "/\(component)"
            rootOID = child.oid
        }
        guard try Node.load(rootOID, loader: loader).isDirectory else {
            throw .invalidArgument("--root: \(walked) is not a folder")
        }
        inodes = InodeMap(rootOID: rootOID)
        rootDescription = walked.isEmpty ? "/" : walked
        if options.readOnly {
            writer = nil
        } else {
            guard !storage.isReadOnly else { throw .invalidArgument("a writable mount needs a storage opened read-write") }
            let spoolPath = options.spoolPath ?? (storage as? FileStorage).map { $0.path + ".spool" }
            guard let spoolPath else { throw .invalidArgument("a writable mount of \(storage.name) needs a spool folder") }
            writer = StoreWriter(storage: storage, committer: Committer(storage: storage),
                                 spool: try SpoolDirectory(path: spoolPath))
        }
    }

    /// `root['Application']` in a Zope database, else the root mapping itself.
    static func mountRoot(loader: ObjectLoader) throws(FSError) -> OID {
        let root: ObjectRecord
        do {
            root = try loader.load(.root)
        } catch {
            throw FSError(error)
        }
        if let app = root.state["data"]?["Application"], let ref = PersistentReference(app), ref.kind == .strong {
            return ref.oid
        }
        return .root
    }

    /// Set by the bridge once the session exists.
    public var invalidator: KernelInvalidator? {
        get { invalidatorBox.withLock { $0 } }
        set { invalidatorBox.withLock { $0 = newValue } }
    }

    // MARK: - Nodes

    func node(_ oid: OID) throws(FSError) -> Node {
        try nodes.node(oid, loader: loader, stats: stats)
    }

    func attributes(of node: Node) -> FileAttributes {
        let inode = inodes.inode(for: node.oid)
        var permissions: UInt32
        let kind: FileAttributes.Kind
        switch node.content {
        case .directory:
            kind = .directory
            permissions = 0o755
        case .file:
            kind = .regular
            permissions = 0o644
        case .rendered:
            kind = .regular
            permissions = 0o444
        }
        let state = node.object.record.state
        if kind != .regular || permissions != 0o444, let mode = PosixAttributes.mode(in: state) { permissions = mode }
        let mtime = PosixAttributes.modificationTime(in: state) ?? node.modificationTID.timeIntervalSince1970
        return FileAttributes(
            inode: inode, kind: kind, permissions: permissions & ~options.umask, size: node.size,
            linkCount: kind == .directory ? 2 : 1, uid: options.uid, gid: options.gid,
            modificationTime: Timestamp(mtime))
    }

    func virtualAttributes(_ control: ControlNode) -> FileAttributes {
        let mtime = Timestamp(storage.lastTransaction.timeIntervalSince1970)
        switch control {
        case .folder:
            return FileAttributes(inode: control.inode, kind: .directory, permissions: 0o555, size: 4096,
                                  linkCount: 2, uid: options.uid, gid: options.gid, modificationTime: mtime)
        case .info, .stats:
            return FileAttributes(inode: control.inode, kind: .regular, permissions: 0o444, size: 0,
                                  linkCount: 1, uid: options.uid, gid: options.gid, modificationTime: mtime)
        case .pack, .backup:
            // Writable by the mounting user only (the kernel checks, with default_permissions).
            return FileAttributes(inode: control.inode, kind: .regular, permissions: 0o644, size: 0,
                                  linkCount: 1, uid: options.uid, gid: options.gid, modificationTime: mtime)
        }
    }

    func entry(_ attributes: FileAttributes) -> EntryReply {
        EntryReply(attributes: attributes, generation: 1,
                   attributeTimeout: options.attributeTimeout, entryTimeout: options.entryTimeout)
    }

    func countLookup(_ inode: InodeNumber) {
        kernelLookups.withLock { $0[inode, default: 0] += 1 }
    }

    // MARK: - Operations

    public func lookup(parent: InodeNumber, name: String) throws(FSError) -> EntryReply {
        stats.lookups.add(1, ordering: .relaxed)
        let reply = try counting { () throws(FSError) -> EntryReply in
            if let control = ControlNode(inode: parent) {
                guard control == .folder, let file = ControlNode.files.first(where: { $0.name == name }) else {
                    throw control == .folder ? .notFound : .notADirectory
                }
                return entry(virtualAttributes(file))
            }
            if parent == .root, name == ControlNode.folderName {
                return entry(virtualAttributes(.folder))
            }
            guard let parentOID = inodes.oid(for: parent) else { throw .notFound }
            if let pending = openFiles.pendingChild(parent: parentOID, name: name) {
                return entry(attributes(of: pending))
            }
            let dir = try node(parentOID)
            guard dir.isDirectory else { throw .notADirectory }
            guard let child = dir.child(named: name) else { throw .notFound }
            prefetchSiblings(after: name, in: dir)
            if let open = openFiles.file(inodes.inode(for: child.oid)) { return entry(attributes(of: open)) }
            return entry(attributes(of: try node(child.oid)))
        }
        countLookup(reply.attributes.inode)
        return reply
    }

    /// The kernel dropped `count` references to `inode` (from lookups/readdirplus).
    public func forget(_ inode: InodeNumber, count: UInt64) {
        kernelLookups.withLock { table in
            guard let held = table[inode] else { return }
            if held <= count { table.removeValue(forKey: inode) } else { table[inode] = held - count }
        }
    }

    public func getattr(_ inode: InodeNumber) throws(FSError) -> FileAttributes {
        stats.getattrs.add(1, ordering: .relaxed)
        return try counting { () throws(FSError) -> FileAttributes in
            if let control = ControlNode(inode: inode) { return virtualAttributes(control) }
            if let open = openFiles.file(inode) { return attributes(of: open) }
            guard let oid = inodes.oid(for: inode) else { throw .notFound }
            return attributes(of: try node(oid))
        }
    }

    public func opendir(_ inode: InodeNumber) throws(FSError) -> UInt64 {
        try counting { () throws(FSError) -> UInt64 in
            var items = [FileHandleTable.DirectoryItem(name: ".", inode: inode, kind: .directory, oid: nil),
                         FileHandleTable.DirectoryItem(name: "..", inode: inode, kind: .directory, oid: nil)]
            if let control = ControlNode(inode: inode) {
                guard control == .folder else { throw .notADirectory }
                for file in ControlNode.files {
                    items.append(.init(name: file.name, inode: file.inode, kind: .regular, oid: nil))
                }
                return handles.insert(.directory(items))
            }
            guard let oid = inodes.oid(for: inode) else { throw .notFound }
            let dir = try node(oid)
            guard case .directory(let entries, _) = dir.content else { throw .notADirectory }
            if inode == .root {
                items.append(.init(name: ControlNode.folderName, inode: ControlNode.folder.inode, kind: .directory, oid: nil))
            }
            items.reserveCapacity(items.count + entries.count)
            for child in entries {
                // The kind comes from the child's node: cached after the first
                // listing, and needed anyway by the `ls -l` that follows.
                let kind: FileAttributes.Kind = ((try? node(child.oid))?.isDirectory ?? false) ? .directory : .regular
                items.append(.init(name: child.name, inode: inodes.inode(for: child.oid), kind: kind, oid: child.oid))
            }
            for pending in openFiles.pendingChildren(parent: oid) where dir.child(named: pending.name) == nil {
                items.append(.init(name: pending.name, inode: pending.file.inode, kind: .regular, oid: nil))
            }
            return handles.insert(.directory(items))
        }
    }

    /// The listing comes from the snapshot taken at `opendir`. A
    /// `readdirplus` entry, though, is a lookup the kernel caches: an entry
    /// whose name has since been removed, renamed or replaced would make the
    /// kernel map that name to the wrong inode — a later `open` of the name
    /// then writes a file that no longer has it, and a folder seen under two
    /// names makes path walks fail with ESTALE. So each entry is checked
    /// against the folder as it is now (the kernel holds the folder's lock,
    /// so no rename in it runs meanwhile), and one that changed is sent
    /// without attributes, which the kernel lists but does not cache.
    public func readdir(_ inode: InodeNumber, handle: UInt64, offset: UInt64, plus: Bool,
                        into replier: inout some DirectoryReplier) throws(FSError) {
        stats.readdirs.add(1, ordering: .relaxed)
        guard case .directory(let items)? = handles.body(handle) else { throw .badHandle }
        let folder = plus ? inodes.oid(for: inode).flatMap { oid in (try? node(oid)).map { (oid, $0) } } : nil
        func stillNamed(_ item: FileHandleTable.DirectoryItem) -> Bool {
            guard let (oid, node) = folder else { return false }
            if let child = node.child(named: item.name) { return inodes.inode(for: child.oid) == item.inode }
            return openFiles.pendingChild(parent: oid, name: item.name)?.inode == item.inode
        }
        var index = Int(clamping: offset)
        if plus, storage.loadsAreRemote {
            storage.prefetch(items[min(index, items.count)...].prefix(Self.prefetchedSiblings).compactMap(\.oid))
        }
        while index < items.count {
            let item = items[index]
            var reply: EntryReply?
            let isControl = ControlNode(inode: item.inode) != nil
            if plus && !isControl && item.name != "." && item.name != ".." && !stillNamed(item) {
                guard replier.add(name: item.name, inode: item.inode, kind: item.kind,
                                  entry: nil, nextOffset: UInt64(index + 1)) else { return }
                index += 1
                continue
            }
            if plus {
                if let oid = item.oid {
                    guard let child = try? node(oid) else {
                        // A child that vanished or cannot be decoded is skipped
                        // here; `lookup` reports its error to whoever asks.
                        index += 1
                        continue
                    }
                    reply = entry(attributes(of: child))
                } else if let control = ControlNode(inode: item.inode) {
                    reply = entry(virtualAttributes(control))
                } else {
                    reply = entry((try? getattr(item.inode)) ?? virtualAttributes(.folder))
                }
            }
            guard replier.add(name: item.name, inode: item.inode, kind: reply?.attributes.kind ?? item.kind,
                              entry: reply, nextOffset: UInt64(index + 1)) else { return }
            if plus, item.name != ".", item.name != ".." { countLookup(item.inode) }
            index += 1
        }
    }

    /// How many children ahead a lookup or listing asks a ZEO server for.
    static let prefetchedSiblings = 64

    /// Over ZEO every child's record is a round trip. Tools walk a folder in
    /// its order (`cat *`, `rsync`, `ls -l`), so after a lookup the next
    /// children's records are asked for together, before they are needed.
    private func prefetchSiblings(after name: String, in folder: Node) {
        guard storage.loadsAreRemote, case .directory(let entries, let index) = folder.content, let i = index[name] else { return }
        let next = entries[(i + 1)...].prefix(Self.prefetchedSiblings).map(\.oid)
        storage.prefetch(next.filter { nodes.cached($0) == nil })
    }

    public func releasedir(_ inode: InodeNumber, handle: UInt64) {
        handles.remove(handle)
    }

    /// A read-only handle on the file `inode` that another handle writes,
    /// or nil when that writer is gone by now: the file it wrote may be
    /// closed and its spool freed, so it must not be brought back.
    func openSharing(_ inode: InodeNumber) -> OpenReply? {
        guard let file = openFiles.attachExisting(inode) else { return nil }
        stats.openHandles.add(1, ordering: .relaxed)
        return OpenReply(handle: handles.insert(.reading(file)), keepCache: true, directIO: false)
    }

    /// `flags` are the open(2) flags (O_ACCMODE bits matter).
    public func open(_ inode: InodeNumber, flags: Int32) throws(FSError) -> OpenReply {
        stats.opens.add(1, ordering: .relaxed)
        return try counting { () throws(FSError) -> OpenReply in
            let writing = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0
            if let control = ControlNode(inode: inode) {
                guard control != .folder else { throw .isADirectory }
                if writing {
                    guard control.acceptsCommands else { throw .accessDenied }
                    stats.openHandles.add(1, ordering: .relaxed)
                    return OpenReply(handle: handles.insert(.command(control)), keepCache: false, directIO: true)
                }
                let handle = handles.insert(.bytes(Array(controlContent(control).utf8)))
                stats.openHandles.add(1, ordering: .relaxed)
                return OpenReply(handle: handle, keepCache: false, directIO: true)
            }
            if options.readOnly && writing {
                throw .readOnly
            }
            if let open = openFiles.file(inode) {
                // Being written through another handle: read what it wrote.
                if writing { return try openForWriting(inode, oid: open.oid, flags: flags, existing: open) }
                if let reply = openSharing(inode) { return reply }
                // Its last handle went away meanwhile: read the stored file.
            }
            guard let oid = inodes.oid(for: inode) else { throw .notFound }
            let n = try node(oid)
            if writing { return try openForWriting(inode, oid: oid, node: n, flags: flags) }
            let body: FileHandleTable.Body
            switch n.content {
            case .directory:
                throw .isADirectory
            case .rendered(let bytes):
                body = .bytes(bytes)
            case .file(let file):
                switch file.body {
                case .inline(let bytes):
                    body = .bytes(Array(bytes.prefix(Int(clamping: file.size))))
                case .chain(let first):
                    body = .chain(chunkTable(for: file, first: first))
                }
            }
            let revision = n.object.record.tid
            let keep = kernelCachedRevision.withLock { cached in
                defer { cached[oid] = revision }
                return cached[oid] == revision
            }
            stats.openHandles.add(1, ordering: .relaxed)
            return OpenReply(handle: handles.insert(body, pinning: inode), keepCache: keep, directIO: false)
        }
    }

    func chunkTable(for file: ZopeFile, first: OID) -> ChunkTable {
        let oid = file.record.oid
        let revision = file.record.tid
        return chunkTables.withLock { tables in
            if let table = tables[oid], table.revision == revision { return table }
            if tables.count >= 4096 { tables.removeAll(keepingCapacity: true) }
            let table = ChunkTable(oid: oid, revision: revision, size: file.size, first: first)
            tables[oid] = table
            stats.chunkTablesBuilt.add(1, ordering: .relaxed)
            return table
        }
    }

    public func read(_ inode: InodeNumber, handle: UInt64, offset: UInt64, size: Int) throws(FSError) -> ReadReply {
        stats.reads.add(1, ordering: .relaxed)
        let reply = try counting { () throws(FSError) -> ReadReply in
            switch handles.body(handle) {
            case .bytes(let bytes)?:
                guard offset < UInt64(bytes.count) else { return .bytes([]) }
                let start = Int(offset)
                return .bytes(Array(bytes[start..<min(bytes.count, start + size)]))
            case .chain(let table)?:
                return try table.read(offset: offset, length: size, storage: storage)
            case .writable(let file)?, .reading(let file)?:
                return .bytes(try file.state.withLock { (s: inout OpenFile.State) throws(FSError) -> [UInt8] in
                    try s.read(offset..<offset + UInt64(size), storage: storage)
                })
            case .command(let node)?:
                // Read through a handle opened for commands: the status now.
                let bytes = Array(controlContent(node).utf8)
                guard offset < UInt64(bytes.count) else { return .bytes([]) }
                return .bytes(Array(bytes[Int(offset)..<min(bytes.count, Int(offset) + size)]))
            case .directory?:
                throw .isADirectory
            case nil:
                throw .badHandle
            }
        }
        stats.bytesRead.add(UInt64(reply.count), ordering: .relaxed)
        return reply
    }

    func dropChunkTables(_ oids: [OID]) {
        chunkTables.withLock { tables in
            for oid in oids { tables.removeValue(forKey: oid) }
        }
    }

    public func statfs() -> FilesystemStatistics {
        let blockSize: UInt64 = 4096
        var free: UInt64 = 0
        var available: UInt64 = 0
        if !options.readOnly, let local = storage as? FileStorage,
           let space = try? FileManager.default.attributesOfFileSystem(forPath: local.path),
           let bytes = (space[.systemFreeSize] as? NSNumber)?.uint64Value {
            free = bytes / blockSize
            available = free
        }
        let used = (storage.size + blockSize - 1) / blockSize
        return FilesystemStatistics(
            blockSize: blockSize, totalBlocks: used + free, freeBlocks: free, availableBlocks: available,
            totalFiles: UInt64(storage.objectCount), freeFiles: 0, maximumNameLength: 255)
    }

    static let contentTypeAttribute = "user.zope.content_type"
    static let titleAttribute = "user.zope.title"
    static let metaTypeAttribute = "user.zope.meta_type"
    static let oidAttribute = "user.zodb.oid"
    static let tidAttribute = "user.zodb.tid"

    public func getxattr(_ inode: InodeNumber, name: String) throws(FSError) -> [UInt8] {
        try counting { () throws(FSError) -> [UInt8] in
            guard let value = try extendedAttributes(inode).first(where: { $0.0 == name })?.1 else {
                throw .noSuchAttribute
            }
            return Array(value.utf8)
        }
    }

    public func listxattr(_ inode: InodeNumber) throws(FSError) -> [String] {
        try counting { () throws(FSError) -> [String] in try extendedAttributes(inode).map(\.0) }
    }

    private func extendedAttributes(_ inode: InodeNumber) throws(FSError) -> [(String, String)] {
        if ControlNode(inode: inode) != nil { return [] }
        guard let oid = inodes.oid(for: inode) else { throw .notFound }
        let n = try node(oid)
        var attrs: [(String, String)] = []
        if case .file(let file) = n.content, let type = file.contentType {
            attrs.append((Self.contentTypeAttribute, type))
        }
        if let title = n.object.title { attrs.append((Self.titleAttribute, title)) }
        attrs.append((Self.metaTypeAttribute, nodes.metaType(of: oid) ?? n.object.metaType))
        attrs.append((Self.oidAttribute, "0x\(n.oid)"))
        attrs.append((Self.tidAttribute, "0x\(n.object.record.tid)"))
        return attrs
    }

    /// Called for operations the store cannot represent (symlinks, hard
    /// links, device nodes): EPERM, or EROFS on a read-only mount.
    public func refuseModification() -> FSError {
        stats.errors.add(1, ordering: .relaxed)
        return options.readOnly ? .readOnly : .notPermitted
    }

    /// Runs `body`, counting a thrown error in the statistics.
    func counting<T>(_ body: () throws(FSError) -> T) throws(FSError) -> T {
        do {
            return try body()
        } catch {
            stats.errors.add(1, ordering: .relaxed)
            throw error
        }
    }

    // MARK: - Control files

    /// The text of `.zodbfs/info`.
    public func infoText() -> String { controlContent(.info) }

    func controlContent(_ control: ControlNode) -> String {
        switch control {
        case .folder: return ""
        case .stats: return stats.render() + jobMetrics()
        case .pack, .backup:
            return job(control).statusText()
        case .info:
            let last = storage.lastTransaction
            return storage.statusLines.map { $0 + "\n" }.joined() + """
            last_transaction: 0x\(last) \(last.isoString)
            root: \(rootDescription) (oid 0x\(inodes.rootOID))
            read_only: \(options.readOnly)
            follow: \(options.follow && storage.seesOtherWriters)
            pid: \(getpid())

            """
        }
    }

    // MARK: - Paths (CLI use: ls, cat, info without a mount)

    /// The inode at `path` below the mount root ("" or "/" is the root).
    public func resolve(path: String) throws(FSError) -> InodeNumber {
        var inode = InodeNumber.root
        for component in path.split(separator: "/") where !component.isEmpty {
            inode = try lookup(parent: inode, name: String(component)).attributes.inode
        }
        return inode
    }

    // MARK: - Follow mode

    /// Starts background work (follow mode) once the mount is live.
    public func start() {
        // A writable FileStorage mount holds the lock: nobody else appends.
        guard options.follow, storage.seesOtherWriters else { return }
        follower.withLock { f in
            guard f == nil else { return }
            let started = Follower(interval: options.followInterval) { [weak self] in self?.followOnce() }
            started.start()
            f = started
        }
    }

    /// Stops background work before unmount.
    public func stop() {
        let f = follower.withLock { f -> Follower? in
            defer { f = nil }
            return f
        }
        f?.stop()
    }

    /// Picks up transactions another process appended, drops what they made
    /// stale and tells the kernel. Returns the number of transactions seen.
    @discardableResult
    public func followOnce() -> Int {
        let appended: [TransactionSummary]
        do {
            appended = try storage.poll()
        } catch {
            stats.errors.add(1, ordering: .relaxed)
            return 0
        }
        guard !appended.isEmpty else { return 0 }
        stats.transactionsFollowed.add(UInt64(appended.count), ordering: .relaxed)
        var changed: Set<OID> = []
        for txn in appended { changed.formUnion(txn.oids) }
        let dropped = nodes.invalidate(changed)
        chunkTables.withLock { tables in
            for oid in changed { tables.removeValue(forKey: oid) }
        }
        let kernel = invalidator
        // Inodes the kernel holds whose record changed, plus every node built
        // from a changed record (a BTreeFolder2 whose bucket changed).
        var stale = kernelLookups.withLock { table in
            Set(changed.map { inodes.inode(for: $0) }.filter { table[$0] != nil })
        }
        stale.formUnion(dropped.map { inodes.inode(for: $0.oid) })
        for inode in stale { kernel?.invalidateInode(inode) }
        for node in dropped {
            let inode = inodes.inode(for: node.oid)
            guard case .directory(let oldEntries, _) = node.content else { continue }
            let fresh = try? self.node(node.oid)
            for old in oldEntries where fresh?.child(named: old.name)?.oid != old.oid {
                kernel?.invalidateEntry(parent: inode, name: old.name)
            }
        }
        return appended.count
    }
}
