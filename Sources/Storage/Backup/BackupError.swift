import SystemPackage

/// What can go wrong with a repozo repository. Every case names the file
/// concerned, so an operator knows which one to look at.
public enum BackupError: Error, Sendable, Equatable, CustomStringConvertible {
    case io(path: String, operation: String, errno: Int32)
    /// A `.dat` line that is not `path start end md5`.
    case badDatLine(path: String, line: Int, text: String)
    /// A backup file whose (uncompressed) bytes do not have the md5 its `.dat` line records.
    case checksumMismatch(path: String, expected: String, actual: String)
    /// A backup file whose (uncompressed) size is not `end - start` of its `.dat` line.
    case sizeMismatch(path: String, expected: UInt64, actual: UInt64)
    /// A file the repository needs is not there: a backup file its `.dat`
    /// lists, or the `.dat` of a full backup.
    case missingFile(path: String, reason: String)
    /// A backup file that no line of its full backup's `.dat` describes, so
    /// nothing says what it holds.
    case unlisted(path: String, dat: String)
    /// Backups that do not follow each other: `path` starts at `start`, the
    /// ones before it end at `expectedStart`.
    case gap(path: String, expectedStart: UInt64, start: UInt64)
    /// No full backup at or before the time asked for.
    case noBackup(repository: String, at: String)
    /// A gzip stream that does not decode.
    case badGzip(path: String, reason: String)
    /// Another zodbfs backup is writing into the repository.
    case busy(repository: String)
    /// A backup file of that name exists already (repozo's `WouldOverwriteFiles`).
    case exists(path: String)
    /// The repository holds a backup stamped later than now: the clock went
    /// back, and a new file would sort before it (repozo orders by name).
    case clockBehind(newest: String, now: String)
    /// An increment was asked for, but only a full backup would do.
    case fullBackupNeeded(reason: String)
    case storage(StorageError)

    public var errno: Int32 {
        switch self {
        case .io(_, _, let code): return code
        case .storage(let error): return error.errno
        case .noBackup, .missingFile: return Errno.noSuchFileOrDirectory.rawValue
        case .busy: return Errno.resourceBusy.rawValue
        case .exists: return Errno.fileExists.rawValue
        case .fullBackupNeeded, .clockBehind: return Errno.invalidArgument.rawValue
        default: return Errno.ioError.rawValue
        }
    }

    public var description: String {
        switch self {
        case .io(let path, let operation, let code):
            return "\(path): \(operation) failed: \(Errno(rawValue: code))"
        case .badDatLine(let path, let line, let text):
            return "\(path), line \(line): not 'path start end md5': \(text)"
        case .checksumMismatch(let path, let expected, let actual):
            return "\(path) has checksum \(actual) instead of \(expected)"
        case .sizeMismatch(let path, let expected, let actual):
            return "\(path) is \(actual) bytes instead of \(expected)"
        case .missingFile(let path, let reason):
            return "\(path) is missing: \(reason)"
        case .unlisted(let path, let dat):
            return "\(path) has no line in \(dat), so nothing says what it holds"
        case .gap(let path, let expectedStart, let start):
            return "\(path) starts at byte \(start), but the backups before it end at \(expectedStart)"
        case .noBackup(let repository, let at):
            return "\(repository): no full backup at or before \(at)"
        case .badGzip(let path, let reason):
            return "\(path): not a readable gzip file (\(reason))"
        case .busy(let repository):
            return "\(repository): another backup is writing into this repository"
        case .exists(let path):
            return "\(path) exists already"
        case .clockBehind(let newest, let now):
            return "the repository holds a backup stamped \(newest), later than now (\(now)): is the clock right?"
        case .fullBackupNeeded(let reason):
            return "an incremental backup is not possible (\(reason)): make a full one"
        case .storage(let error):
            return "\(error)"
        }
    }
}

extension Errno {
    func backupError(_ path: String, _ operation: String) -> BackupError {
        .io(path: path, operation: operation, errno: rawValue)
    }
}

/// The errno of anything a swift-system call throws, as a ``BackupError``.
func backupError(_ error: any Error, _ path: String, _ operation: String) -> BackupError {
    (error as? Errno ?? .ioError).backupError(path, operation)
}
