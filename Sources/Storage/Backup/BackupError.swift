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
    /// A backup file the `.dat` lists is not in the repository, or one the
    /// repository has is not in its `.dat`.
    case missingFile(path: String, reason: String)
    /// Increments that do not follow each other (`start` of one ≠ `end` of the previous).
    case gap(path: String, expectedStart: UInt64, start: UInt64)
    /// No full backup at or before the time asked for.
    case noBackup(repository: String, at: String)
    /// A gzip stream that does not decode.
    case badGzip(path: String, reason: String)
    case storage(StorageError)

    public var errno: Int32 {
        switch self {
        case .io(_, _, let code): return code
        case .storage(let error): return error.errno
        case .noBackup, .missingFile: return Errno.noSuchFileOrDirectory.rawValue
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
            return "\(path): \(reason)"
        case .gap(let path, let expectedStart, let start):
            return "\(path) starts at byte \(start), but the backups before it end at \(expectedStart)"
        case .noBackup(let repository, let at):
            return "\(repository): no full backup at or before \(at)"
        case .badGzip(let path, let reason):
            return "\(path): not a readable gzip file (\(reason))"
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
