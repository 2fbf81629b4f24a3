import SystemPackage

/// One open `Data.fs` file of a ``FileStorage`` and its *generation*.
///
/// Positions in a FileStorage are byte offsets into one particular file. A
/// pack writes a new file and renames it over the old one, so after the swap
/// every position changes: a position is meaningful only together with the
/// generation it was read in. Generation 0 is the file the storage was opened
/// with; each pack swap adds one.
///
/// The storage keeps the file of the previous generation open until the next
/// swap (``FileStorage/retiredFile``), so a reader that looked a position up
/// just before a swap still reads the bytes it meant to, from the old file,
/// and anything that caches positions (a file's chunk table) notices the new
/// generation on its next use and rebuilds from oids.
struct StorageFile: Sendable {
    let descriptor: FileDescriptor
    let generation: UInt64
    /// Device and inode, to notice when the path names another file.
    let identity: (device: UInt64, inode: UInt64)
}
