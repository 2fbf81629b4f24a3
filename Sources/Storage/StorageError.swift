import SystemPackage

/// Everything that can go wrong in the storage layer, with the context needed
/// to act on it: the file, the byte offset of damage, the oid.
///
/// ``errno`` is the one place where a storage error becomes an errno.
public enum StorageError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The storage file (or an `.index` file asked for by name) does not exist.
    case fileNotFound(path: String)
    /// The file is not a FileStorage: shorter than its 4-byte header, or a
    /// header other than `FS30`/`FS21`.
    case notAFileStorage(path: String)
    /// The file is damaged at `offset` (ZODB's `CorruptedError` and
    /// `CorruptedDataError`). A torn tail is not an error; this is damage
    /// before the last transaction, or a record that contradicts the index.
    case corrupted(path: String, offset: UInt64, reason: String)
    /// No such object (ZODB's `POSKeyError`): the oid is not in the index.
    case objectNotFound(OID)
    /// The object's current revision says it does not exist: a data record
    /// with no pickle and a zero backpointer, written when the transaction
    /// that created the object was undone ("George Bailey") or by
    /// `deleteObject`. ZODB raises `POSKeyError` here too.
    case objectDeleted(OID)
    /// A system call failed.
    case io(path: String, operation: String, errno: Int32)
    /// A write was asked of a storage opened read-only.
    case readOnly
    /// Another process holds the storage's lock file (`Data.fs.lock`).
    case locked(path: String)
    /// A `.index` file is not in the format `fsIndex.save` writes; the storage
    /// rebuilds its index by scanning instead.
    case invalidIndexFile(path: String, offset: UInt64, reason: String)
    /// Following a storage: the file at `path` is no longer the one opened
    /// (packed, restored, replaced) or its bytes before the known end changed.
    /// Reopen it.
    case fileReplaced(path: String, reason: String)
    /// The storage was closed.
    case closed(path: String)
    /// A commit's `expectedSerial` for `oid` is not the object's current
    /// serial (ZODB's `ConflictError`): `expected` nil means the commit
    /// expected a new object, `actual` nil that the object does not exist.
    /// Nothing was written; reload and retry.
    case conflict(oid: OID, expected: TID?, actual: TID?)
    /// A commit that cannot be written as asked: user, description or
    /// extension longer than 65535 bytes (ZODB's `FileStorageError` of
    /// `_begin`), an empty pickle, an oid twice, a payload range its file
    /// does not hold, or no oid left.
    case invalidTransaction(reason: String)
    /// A pack was asked for while one runs on the same storage (ZODB's
    /// "Already packing").
    case packInProgress(path: String)
    /// A storage reached over the network (a ZEO server) could not be
    /// reached within the time allowed, or the connection dropped while a
    /// call waited for its answer. Nothing was changed by this call unless
    /// it was a commit whose outcome could not be learnt (`reason` says so).
    case disconnected(server: String, reason: String)
    /// The server answered a call with an error this client does not turn
    /// into one of the cases above (`class` is the Python exception class).
    case serverError(server: String, class: String, message: String)

    /// The errno a filesystem call that failed with this error returns.
    ///
    /// - Missing object, deleted object, missing file: `ENOENT`.
    /// - Damage, a bad index file: `EIO` (the data cannot be trusted).
    /// - Not a FileStorage: `EINVAL` (the argument was wrong, nothing is damaged).
    /// - A failed system call: its own errno.
    /// - Read-only: `EROFS`. Locked: `EAGAIN`, as `flock` reports it.
    /// - Replaced file: `ESTALE`, as NFS says of a file handle whose file went away.
    /// - Closed: `EBADF`.
    /// - Conflict: `EAGAIN`, "try again": ZODB's `ConflictError` is a
    ///   `TransientError`, one that a retry on fresh data resolves.
    /// - Invalid transaction: `EINVAL`.
    /// - A pack while one runs: `EBUSY`.
    /// - A ZEO server away or failing: `EIO`.
    public var errno: Int32 { systemErrno.rawValue }

    /// ``errno`` as swift-system's `Errno`.
    public var systemErrno: Errno {
        switch self {
        case .fileNotFound, .objectNotFound, .objectDeleted: .noSuchFileOrDirectory
        case .corrupted, .invalidIndexFile: .ioError
        case .notAFileStorage: .invalidArgument
        case .io(_, _, let code): Errno(rawValue: code)
        case .readOnly: .readOnlyFileSystem
        case .locked: .resourceTemporarilyUnavailable
        case .fileReplaced: .staleNFSFileHandle
        case .closed: .badFileDescriptor
        case .conflict: .resourceTemporarilyUnavailable
        case .invalidTransaction: .invalidArgument
        case .packInProgress: .resourceBusy
        case .disconnected, .serverError: .ioError
        }
    }

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            "\(path): no such file"
        case .notAFileStorage(let path):
            "\(path): not a FileStorage (expected the header FS30 or FS21)"
        case .corrupted(let path, let offset, let reason):
            "\(path): damaged at byte \(offset): \(reason)"
        case .objectNotFound(let oid):
            "no object with oid \(oid.repr)"
        case .objectDeleted(let oid):
            "object \(oid.repr) does not exist in its current revision (creation undone or object deleted)"
        case .io(let path, let operation, let code):
            "\(path): \(operation) failed: \(Errno(rawValue: code)) (errno \(code))"
        case .readOnly:
            "the storage is read-only"
        case .locked(let path):
            "\(path): locked by another process (a Zope or ZEO server has the storage open for writing); stop it, or open the storage read-only"
        case .invalidIndexFile(let path, let offset, let reason):
            "\(path): not a usable index file (byte \(offset)): \(reason)"
        case .fileReplaced(let path, let reason):
            "\(path): the file changed under the open storage (\(reason)); reopen it"
        case .closed(let path):
            "\(path): the storage is closed"
        case .conflict(let oid, let expected, let actual):
            "conflict on \(oid.repr): the commit expected "
                + (expected.map { "serial \($0.repr)" } ?? "a new object")
                + ", the storage has " + (actual.map { "serial \($0.repr)" } ?? "no such object")
        case .invalidTransaction(let reason):
            "invalid transaction: \(reason)"
        case .packInProgress(let path):
            "\(path): a pack is already running"
        case .disconnected(let server, let reason):
            "ZEO server \(server): \(reason)"
        case .serverError(let server, let className, let message):
            "ZEO server \(server) answered \(className): \(message)"
        }
    }
}

/// Something a scan noticed that ZODB only logs: the file still opens.
public struct StorageWarning: Sendable, Equatable, CustomStringConvertible {
    /// The byte offset of the transaction or data record concerned.
    public var offset: UInt64
    public var message: String

    public init(offset: UInt64, message: String) {
        self.offset = offset
        self.message = message
    }

    public var description: String { "byte \(offset): \(message)" }
}

extension Errno {
    /// Converts a failed system call into a ``StorageError``.
    func storageError(path: String, operation: String) -> StorageError {
        .io(path: path, operation: operation, errno: rawValue)
    }
}
