#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Storage

/// Every failure a filesystem operation can report. The FUSE bridge turns
/// one into a reply with `errno`; this type holds the only errno table.
public enum FSError: Error, Sendable, CustomStringConvertible {
    /// No such name in the directory, or no such inode.
    case notFound
    case notADirectory
    case isADirectory
    case directoryNotEmpty
    case exists
    /// The mount (or this node) does not accept changes.
    case readOnly
    /// The operation is refused by design (symlinks, hard links, ...).
    case notPermitted
    case accessDenied
    case invalidArgument(String)
    case nameTooLong
    case noSuchAttribute
    /// An extended attribute the mount does not keep (only `user.zope.*`).
    case unsupportedAttribute
    case busy(String)
    case noSpace
    case unsupported
    case badHandle
    /// The spool that holds an open file's uncommitted bytes failed
    /// (usually ENOSPC); the store is untouched.
    case spoolFailed(operation: String, errno: Int32)
    /// The change kept conflicting with concurrent commits and was given up;
    /// the store is as it was.
    case conflict(String)
    /// The store could not be read or written; the cause says where.
    case storage(StorageError)
    /// A record decoded to something the object layer could not map.
    case corruptObject(String)
    /// A pack swapped files again and again while a read was locating its
    /// bytes; the read may be retried (EAGAIN).
    case packedMeanwhile

    /// The errno the kernel hands back to the caller.
    public var errno: Int32 {
        switch self {
        case .notFound: return ENOENT
        case .notADirectory: return ENOTDIR
        case .isADirectory: return EISDIR
        case .directoryNotEmpty: return ENOTEMPTY
        case .exists: return EEXIST
        case .readOnly: return EROFS
        case .notPermitted: return EPERM
        case .accessDenied: return EACCES
        case .invalidArgument: return EINVAL
        case .nameTooLong: return ENAMETOOLONG
        case .noSuchAttribute: return ENODATA
        case .unsupportedAttribute: return EOPNOTSUPP
        case .busy: return EBUSY
        case .noSpace: return ENOSPC
        case .unsupported: return ENOSYS
        case .badHandle: return EBADF
        case .spoolFailed(_, let code): return code
        case .conflict: return EIO
        case .storage(let e): return e.errno
        case .corruptObject: return EIO
        case .packedMeanwhile: return EAGAIN
        }
    }

    public var description: String {
        switch self {
        case .notFound: return "no such file or directory"
        case .notADirectory: return "not a directory"
        case .isADirectory: return "is a directory"
        case .directoryNotEmpty: return "directory not empty"
        case .exists: return "file exists"
        case .readOnly: return "read-only file system"
        case .notPermitted: return "operation not permitted"
        case .accessDenied: return "permission denied"
        case .invalidArgument(let why): return "invalid argument: \(why)"
        case .nameTooLong: return "name too long"
        case .noSuchAttribute: return "no such attribute"
        case .unsupportedAttribute: return "extended attribute not supported"
        case .busy(let why): return "busy: \(why)"
        case .noSpace: return "no space left on device"
        case .unsupported: return "operation not supported"
        case .badHandle: return "bad file handle"
        case .spoolFailed(let operation, let code): return "spool \(operation) failed (errno \(code))"
        case .conflict(let why): return "gave up after repeated conflicts: \(why)"
        case .storage(let e): return "storage: \(e)"
        case .corruptObject(let why): return "corrupt object: \(why)"
        case .packedMeanwhile: return "the store was packed while the read located its bytes"
        }
    }
}
