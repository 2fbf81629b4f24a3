/// What a backup is asked for (the commands of `.zodbfs/backup`, the flags
/// of `zodbfs backup`).
public enum BackupMode: String, Sendable, CaseIterable {
    /// A full backup whatever the repository holds (`repozo -B -F`).
    case full
    /// An increment, or an error when only a full backup would do (an empty
    /// repository, a store that was packed or replaced, a damaged chain): an
    /// operator who asks for an increment is not handed gigabytes instead.
    case incremental
    /// Repozo's own choice (`repozo -B`): an increment when the store
    /// continues the repository, a full backup when it does not, nothing
    /// when no transaction was committed since the last backup.
    case auto
}
