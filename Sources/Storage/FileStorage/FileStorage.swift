import SystemPackage

/// A ZODB FileStorage (`Data.fs`): an append-only log of transactions plus an
/// in-memory index from each oid to the position of its newest data record.
///
/// Opening follows ZODB's `FileStorage.__init__`: the index comes from
/// `Data.fs.index` when that file exists and passes ZODB's sanity check
/// (`_check_sanity`), and a forward scan from the index's position picks up
/// any later transactions; otherwise a full scan builds it (`read_index`).
/// A torn tail (a commit cut short by a crash, or one still being written by
/// another process) ends the storage at the last complete transaction: a
/// read-only open leaves it on disk, a read-write open saves it to
/// `Data.fs.tr0` and truncates it (``TailRecovery``); damage before that
/// fails the open with ``StorageError/corrupted(path:offset:reason:)``.
///
/// A read-write storage commits transactions (``commit(_:metadata:)``,
/// ``newOIDs(_:)``); ``GroupCommit`` describes how commits share fsyncs and
/// when readers see them.
///
/// A read-only storage takes no lock and never writes a byte or creates a
/// file, so it can open a `Data.fs` that a running Zope holds, and
/// ``poll()`` follows what that Zope appends.
///
/// This type never decodes a pickle: records are bytes to it.
///
/// ## Concurrency
///
/// `FileStorage` is `Sendable` and meant to be shared by many threads (FUSE
/// workers calling ``load(_:)``, ``currentRecord(_:)`` and ``read(at:count:)``
/// while another thread calls ``poll()``):
/// - All file reads use `pread` on one descriptor, which has no shared file
///   offset, so reads need no lock.
/// - `state` (a `Guarded` lock) guards the index, the end position, the last tid and
///   the warnings. Readers hold it only to look up a position; they then read
///   outside the lock. That is safe because the bytes before ``size`` never
///   change: the file is append-only, and a pack writes a new file and renames
///   it over the old, leaving this descriptor on the old one.
/// - `pollGate` (a `Guarded` lock) serialises ``poll()``: a poll scans new bytes
///   without holding `state`, then takes `state` once to publish what it
///   found, so readers see a transaction completely or not at all.
///   Lock order: `pollGate`, then `state`; nothing takes them the other way.
/// - Commits take `groupCommit`'s commit lock and monitor before `state`
///   (see ``GroupCommit``) and publish a transaction only once it is fsynced.
/// - A pack (``pack(before:references:options:progress:)``) reads a snapshot
///   of the file without any lock, and swaps in the packed file under the
///   commit lock and `state` when no transaction is pending: the file, the
///   index and the end change together, so a reader sees the old file with
///   the old positions or the new file with the new ones (each
///   ``StorageFile`` has a generation; positions carry it where they are
///   kept beyond one call).
/// - ``close()`` must not run while other calls on the storage are in flight
///   (the descriptor number could be reused by then); later calls throw
///   ``StorageError/closed(path:)``.
public final class FileStorage: Sendable {
    /// The path the storage was opened with.
    public let path: String
    /// The file's magic: `"FS30"` (ZODB on Python 3) or `"FS21"` (Python 2).
    public let magic: String
    /// True when opened read-only (no lock, no writes).
    public let isReadOnly: Bool
    /// True when the open used `Data.fs.index` instead of scanning the whole file.
    public let usedIndexFile: Bool

    private let lockFile: FileDescriptor?
    /// The most one WILLNEED call reads on the file's device.
    let willNeedPiece: UInt64
    /// Nil where the kernel gives files no huge pages.
    let prefetcher = RegionPrefetcher.ifHugePagesAvailable()

    struct State {
        /// oid → position of its newest data record (also for deleted objects,
        /// as in ZODB's index).
        var index: ObjectIndex
        /// Just past the last complete transaction (ZODB's `_pos`).
        var end: UInt64
        /// The tid of the last complete transaction, `TID.zero` when empty.
        var lastTID: TID
        /// The header position of that transaction; nil when there is none.
        var lastTransactionPosition: UInt64?
        var warnings: [StorageWarning]
        var isClosed = false
        /// The open Data.fs.
        var file: StorageFile
        /// The file of the previous generation, open until the next pack
        /// swap (see ``StorageFile``).
        var retired: StorageFile?
        /// True while a pack runs: a second one is refused.
        var isPacking = false
        /// The file generation and end `Data.fs.index` was last saved for:
        /// a close right after a pack (which saves it) need not write it again.
        var indexSavedFor: (generation: UInt64, end: UInt64)?
    }

    /// Guards the index and the end of the storage. See the type's documentation.
    let state: Guarded<State>
    /// Serialises ``poll()``; taken before `state`.
    let pollGate = Guarded<Void>(())
    /// The commit lock, the pending transactions and the shared fsync.
    let groupCommit: GroupCommit

    /// Opens a FileStorage.
    ///
    /// - Parameters:
    ///   - path: the `Data.fs` file. Its index is `path + ".index"`.
    ///   - readOnly: open without taking `Data.fs.lock` and without ever
    ///     writing (the default). Read-write opens take the lock (as ZODB's
    ///     zc.lockfile does: `flock` on `Data.fs.lock`, content `" <pid>\n"`),
    ///     write the magic into an empty file, and save the index after a
    ///     full scan and on ``close()``.
    ///   - createIfMissing: for a read-write open, create an empty storage when
    ///     `path` does not exist.
    ///
    ///   - clock: where commit tids come from (tests inject one that steps back).
    ///   - scanProgress: called now and then (every 64 MiB) with the bytes
    ///     scanned and to scan, when the open has to scan (no usable
    ///     `Data.fs.index`, or one far behind the file) — minutes on a large
    ///     store, so a command can show progress.
    ///
    /// A torn tail is left in the file by a read-only open; a read-write open
    /// copies it to `Data.fs.tr0` (`.tr1`, … if taken) and truncates the file
    /// at the end of the last complete transaction, as ZODB's `read_index`
    /// does. Either way ``lastTransaction`` is the last transaction kept.
    /// - Throws: ``StorageError/fileNotFound(path:)``,
    ///   ``StorageError/notAFileStorage(path:)`` (fewer than 4 bytes, or a
    ///   header other than `FS30`/`FS21`), ``StorageError/corrupted(path:offset:reason:)``,
    ///   ``StorageError/locked(path:)``, ``StorageError/io(path:operation:errno:)``.
    public init(
        path: String, readOnly: Bool = true, createIfMissing: Bool = false, clock: CommitClock = .system,
        scanProgress: ((_ done: UInt64, _ total: UInt64) -> Void)? = nil
    ) throws(StorageError) {
        self.path = path
        self.isReadOnly = readOnly

        let file = try Self.openStorageFile(path, readOnly: readOnly, create: createIfMissing && !readOnly)
        var lockFile: FileDescriptor?
        let opened: Opened
        do throws(StorageError) {
            if !readOnly { lockFile = try Self.takeLock(path + ".lock") }
            opened = try Self.readStorage(file, path: path, readOnly: readOnly, progress: scanProgress)
        } catch {
            if let lockFile { try? lockFile.close() }
            try? file.close()
            throw error
        }
        self.lockFile = lockFile
        self.willNeedPiece = ReadaheadLimit.bytes(forDevice: (try? Self.identity(of: file, path).device) ?? 0)
        self.magic = opened.magic
        self.usedIndexFile = opened.usedIndexFile
        self.state = Guarded(opened.state)
        self.groupCommit = GroupCommit(
            end: opened.state.end, lastTID: opened.state.lastTID, largestOID: opened.state.index.maxOID, clock: clock)
        if !readOnly && !usedIndexFile {
            // ZODB saves the index after a full scan; failing to is not fatal.
            try? saveIndex()
        }
    }

    private struct Opened {
        var magic: String
        var usedIndexFile: Bool
        var state: State
    }

    /// Checks the header, restores or builds the index, finds the end.
    private static func readStorage(
        _ file: FileDescriptor, path: String, readOnly: Bool, progress: ((UInt64, UInt64) -> Void)?
    ) throws(StorageError) -> Opened {
        var size = try fileSize(file, path)
        if size == 0 && !readOnly {
            do {
                _ = try file.writeAll(toAbsoluteOffset: 0, FileStorageMagic.fs30)
            } catch {
                throw (error as? Errno ?? .ioError).storageError(path: path, operation: "write")
            }
            size = 4
        }
        guard size >= 4 else { throw .notAFileStorage(path: path) }
        var header = [UInt8](repeating: 0, count: 4)
        let count: Int
        do {
            count = try file.readFully(fromAbsoluteOffset: 0, count: 4, into: &header, at: 0)
        } catch {
            throw error.storageError(path: path, operation: "pread")
        }
        guard count == 4, header == FileStorageMagic.fs30 || header == FileStorageMagic.fs21 else {
            throw .notAFileStorage(path: path)
        }

        let restored = restoreIndex(path + ".index", file: file, fileSize: size)
        var index = restored?.index ?? ObjectIndex()
        var scanner = TransactionScanner(
            descriptor: file, path: path, fileSize: size,
            start: restored?.position ?? 4, lastTID: restored?.lastTID ?? .zero)
        var lastTransactionPosition = restored?.lastTransactionPosition
        try? file.advise(.sequential, offset: scanner.position, length: 0)
        let scanStart = scanner.position
        var reported = scanStart
        while let transaction = try scanner.next() {
            apply(scanner.records, to: &index, warnings: &scanner)
            lastTransactionPosition = transaction.position
            if let progress, scanner.position - reported >= 64 << 20 {
                reported = scanner.position
                progress(scanner.position - scanStart, size - scanStart)
            }
        }
        if let progress, reported != scanStart { progress(size - scanStart, size - scanStart) }
        if !readOnly, case .tornTail(let offset, _) = scanner.stop {
            let saved = try TailRecovery.cut(file, path: path, at: offset, fileSize: size)
            scanner.warn(at: offset, "\(size - offset) bytes after the last complete transaction saved to \(saved) and truncated")
        }
        return Opened(
            magic: String(decoding: header, as: UTF8.self),
            usedIndexFile: restored != nil,
            state: State(
                index: index, end: scanner.position, lastTID: scanner.previousTID,
                lastTransactionPosition: lastTransactionPosition, warnings: scanner.warnings,
                file: StorageFile(descriptor: file, generation: 0, identity: try identity(of: file, path))))
    }

    deinit {
        let files = state.withLock { state -> [StorageFile] in
            defer { state.isClosed = true }
            return state.isClosed ? [] : [state.file] + (state.retired.map { [$0] } ?? [])
        }
        if !files.isEmpty {
            try? lockFile?.close()
            for file in files { try? file.descriptor.close() }
        }
    }

    // MARK: - Properties

    /// The open Data.fs: the current generation's file. Commits and
    /// everything else that runs under the commit lock, or on a read-only
    /// storage (which is never packed), may use it directly; readers that
    /// look up positions take the file with them (see ``StorageFile``).
    var file: FileDescriptor { state.withLock { $0.file.descriptor } }

    /// The identity of the open file, to notice when the path names another one.
    var identity: (device: UInt64, inode: UInt64) { state.withLock { $0.file.identity } }

    /// The raw descriptor of the current file (`O_RDONLY` for a read-only
    /// storage), for `splice` and `fuse_reply_data`. Read it with `pread`
    /// only; never close it. Positions read from it belong to ``generation``.
    public var descriptor: Int32 { file.rawValue }

    /// The generation of the current file: 0 when opened, one more after
    /// each pack swap. Positions from different generations do not mix.
    public var generation: UInt64 { state.withLock { $0.file.generation } }

    /// The current file's generation and raw descriptor, read together. The
    /// descriptor stays open until the second pack after this call, so a
    /// read that found its positions in this generation may use it.
    public var currentFile: (generation: UInt64, descriptor: Int32) {
        state.withLock { ($0.file.generation, $0.file.descriptor.rawValue) }
    }

    /// The raw descriptor of the file of `generation`, while it is open (the
    /// current file, or the one a pack just replaced); nil once it is closed.
    public func descriptor(ofGeneration generation: UInt64) -> Int32? {
        state.withLock { s in
            if s.file.generation == generation { return s.file.descriptor.rawValue }
            if let retired = s.retired, retired.generation == generation { return retired.descriptor.rawValue }
            return nil
        }
    }

    /// The file of `generation`, or ``StorageError/fileReplaced(path:reason:)``
    /// once two packs have gone by since the position was read.
    func storageFile(ofGeneration generation: UInt64) throws(StorageError) -> StorageFile {
        try state.withLock { s throws(StorageError) -> StorageFile in
            guard !s.isClosed else { throw .closed(path: path) }
            if s.file.generation == generation { return s.file }
            if let retired = s.retired, retired.generation == generation { return retired }
            throw .fileReplaced(path: path, reason: "a position read before two packs")
        }
    }

    /// The end of the last complete transaction (ZODB's `getSize()`).
    public var size: UInt64 { state.withLock { $0.end } }

    /// The tid of the last complete transaction, ``TID/zero`` for an empty
    /// storage. After a torn tail this is the last transaction *kept* (ZODB
    /// reports the discarded one's).
    public var lastTransaction: TID { state.withLock { $0.lastTID } }

    /// The number of oids in the index (ZODB's `len(storage)`), counting
    /// objects whose current revision deletes them.
    public var objectCount: Int { state.withLock { $0.index.count } }

    /// The largest oid in the index; new oids continue after it.
    public var largestOID: OID? { state.withLock { $0.index.maxOID } }

    /// What the scans noticed that ZODB only logs: tid reductions, invalid
    /// status bytes, `prev` pointers that disagree with the index, and the
    /// torn tail if one was ignored.
    public var warnings: [StorageWarning] { state.withLock { $0.warnings } }

    /// A copy of the index: oid → position of its newest data record.
    public func indexSnapshot() -> ObjectIndex { state.withLock { $0.index } }

    /// The position of the newest data record of `oid`, if it has one.
    public func position(of oid: OID) -> UInt64? { state.withLock { $0.index[oid] } }

    // MARK: - Index file and closing

    /// Writes the index to `path + ".index"` (what ZODB's `_save_index` does).
    ///
    /// - Throws: ``StorageError/readOnly`` for a read-only storage (ZODB
    ///   silently skips it), or the errors of ``IndexFile/save(position:index:path:)``.
    public func saveIndex() throws(StorageError) {
        guard !isReadOnly else { throw .readOnly }
        let (index, end, generation) = try generationSnapshot()
        try IndexFile.save(position: end, index: index, path: path + ".index")
        state.withLock { $0.indexSavedFor = (generation, end) }
    }

    /// Closes the storage: a read-write storage saves its index (unless it
    /// was saved for this very state, as a pack does) and releases its lock
    /// first. Idempotent. Must not race with other calls.
    public func close() {
        close(savingIndex: true)
    }

    /// ``close()``; `savingIndex` false for a storage whose index is not
    /// its file's (``packAndClose(before:references:options:)`` emptied it).
    func close(savingIndex: Bool) {
        let wasClosed = state.withLock { $0.isClosed }
        guard !wasClosed else { return }
        let saved = state.withLock { s in s.indexSavedFor.map { $0 == (s.file.generation, s.end) } ?? false }
        if savingIndex && !isReadOnly && !saved { try? saveIndex() }
        let files = state.withLock { s -> [StorageFile] in
            s.isClosed = true
            return [s.file] + (s.retired.map { [$0] } ?? [])
        }
        if let lockFile {
            try? lockFile.lock(.unlock)
            try? lockFile.close()
        }
        for file in files { try? file.descriptor.close() }
    }

    // MARK: - Helpers

    /// The index and the end, under the lock, failing when closed.
    func snapshot() throws(StorageError) -> (index: ObjectIndex, end: UInt64) {
        let (index, end, _) = try generationSnapshot()
        return (index, end)
    }

    /// The index, the end and the generation of the file they belong to,
    /// taken together: what a reader that outlives a pack needs.
    func generationSnapshot() throws(StorageError) -> (index: ObjectIndex, end: UInt64, generation: UInt64) {
        try state.withLock { state throws(StorageError) in
            guard !state.isClosed else { throw .closed(path: path) }
            return (state.index, state.end, state.file.generation)
        }
    }

    /// The end of the storage, failing when closed.
    func currentEnd() throws(StorageError) -> UInt64 {
        try state.withLock { state throws(StorageError) in
            guard !state.isClosed else { throw .closed(path: path) }
            return state.end
        }
    }

    /// Adds a transaction's records to the index, warning where a record's
    /// `prev` is not the position the index had (ZODB logs "incorrect previous
    /// pointer" and goes on).
    static func apply(_ records: [TransactionScanner.Record], to index: inout ObjectIndex, warnings scanner: inout TransactionScanner) {
        for record in records {
            let old = index.updateValue(record.position, forKey: record.oid) ?? 0
            if old != record.previous {
                scanner.warn(
                    at: record.position,
                    "incorrect previous pointer of \(record.oid.repr): \(record.previous), the index had \(old)")
            }
        }
    }

    private static func restoreIndex(_ indexPath: String, file: FileDescriptor, fileSize: UInt64) -> RestoredIndex? {
        guard let (position, index) = try? IndexFile.load(path: indexPath),
            let (lastTID, lastPosition) = IndexSanity.check(index: index, position: position, fileSize: fileSize, descriptor: file)
        else { return nil }
        return RestoredIndex(index: index, position: position, lastTID: lastTID, lastTransactionPosition: lastPosition)
    }

    private static func openStorageFile(_ path: String, readOnly: Bool, create: Bool) throws(StorageError) -> FileDescriptor {
        do {
            return try FileDescriptor.open(FilePath(path), readOnly ? .readOnly : .readWrite, options: [.closeOnExec])
        } catch Errno.noSuchFileOrDirectory {
            guard create else { throw .fileNotFound(path: path) }
        } catch {
            throw (error as? Errno ?? .ioError).storageError(path: path, operation: "open")
        }
        do {
            return try FileDescriptor.open(
                FilePath(path), .readWrite, options: [.create, .exclusiveCreate, .closeOnExec],
                permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch {
            throw (error as? Errno ?? .ioError).storageError(path: path, operation: "create")
        }
    }

    /// zc.lockfile's protocol: `flock(LOCK_EX|LOCK_NB)` on `Data.fs.lock`,
    /// then `" <pid>\n"` as its content. The file is never deleted.
    private static func takeLock(_ lockPath: String) throws(StorageError) -> FileDescriptor {
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(
                FilePath(lockPath), .readWrite, options: [.create, .closeOnExec],
                permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch {
            throw (error as? Errno ?? .ioError).storageError(path: lockPath, operation: "open")
        }
        do {
            try descriptor.lock(.exclusiveNonBlocking)
        } catch {
            try? descriptor.close()
            if error == .wouldBlock || error == .resourceTemporarilyUnavailable { throw .locked(path: lockPath) }
            throw error.storageError(path: lockPath, operation: "flock")
        }
        let content = Array(" \(systemProcessID())\n".utf8)
        _ = try? descriptor.writeAll(toAbsoluteOffset: 0, content)
        _ = try? descriptor.resize(to: Int64(content.count))
        return descriptor
    }

    static func fileSize(_ file: FileDescriptor, _ path: String) throws(StorageError) -> UInt64 {
        do {
            return UInt64(try file.stat().size)
        } catch {
            throw error.storageError(path: path, operation: "fstat")
        }
    }

    static func identity(of file: FileDescriptor, _ path: String) throws(StorageError) -> (device: UInt64, inode: UInt64) {
        do {
            let status = try file.stat()
            return (UInt64(status.deviceID.rawValue), UInt64(status.inode.rawValue))
        } catch {
            throw error.storageError(path: path, operation: "fstat")
        }
    }
}
