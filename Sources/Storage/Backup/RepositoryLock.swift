import SystemPackage

/// A `flock` on the repository folder itself, held by a backup while it
/// writes. Repozo takes no lock, and uses one temporary name (`tmp.tmp`)
/// for every backup, so two backups into one repository would clash; this
/// keeps two zodbfs backups (a mount's `.zodbfs/backup` and a cron job's
/// `zodbfs backup`) apart, and tells a restore or verify that a backup file
/// without its `.dat` line yet is one being written rather than damage.
/// Nothing is added to the folder.
final class RepositoryLock {
    private let folder: FileDescriptor
    private var held = true

    /// Takes the exclusive lock, or fails with ``BackupError/busy(repository:)``.
    ///
    /// A restore or verify asks ``isHeld(_:)`` by taking a shared lock for
    /// an instant; a backup starting in that instant would find the lock
    /// taken. So a refused lock is tried again for about ``patience``
    /// seconds: such a probe is long gone by then, another backup is not.
    init(_ repository: BackupRepository) throws(BackupError) {
        do {
            folder = try FileDescriptor.open(FilePath(repository.path), .readOnly, options: [.directory, .closeOnExec])
        } catch {
            throw backupError(error, repository.path, "open the repository")
        }
        var tries = 0
        while !folder.tryLock(exclusive: true) {
            tries += 1
            guard Double(tries) * Self.retryInterval < Self.patience else {
                try? folder.close()
                throw .busy(repository: repository.path)
            }
            systemSleep(seconds: Self.retryInterval)
        }
    }

    static let patience = 0.2
    static let retryInterval = 0.01

    deinit { release() }

    /// Gives the lock up (closing the folder's descriptor does).
    func release() {
        guard held else { return }
        held = false
        try? folder.close()
    }

    /// True when a backup holds the lock of `repository` now.
    static func isHeld(_ repository: BackupRepository) -> Bool {
        guard let folder = try? FileDescriptor.open(FilePath(repository.path), .readOnly, options: [.directory, .closeOnExec])
        else { return false }
        defer { try? folder.close() }
        return !folder.tryLock(exclusive: false)
    }
}
