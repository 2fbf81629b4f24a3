/// Receives directory entries for one `readdir`/`readdirplus` reply. The FUSE
/// bridge implements it over `fuse_add_direntry(_plus)` and its fixed-size
/// buffer, so FS never sees libfuse's buffers.
public protocol DirectoryReplier {
    /// Adds one entry. `nextOffset` is the cookie the kernel passes back to
    /// continue after this entry. Returns false when the reply buffer is full;
    /// the entry was then *not* added and listing must stop.
    ///
    /// For `readdirplus`, `entry` carries the full lookup reply and counts as a
    /// lookup of that inode (the kernel will `forget` it later); for plain
    /// `readdir` it is nil and only the inode and kind are used.
    mutating func add(name: String, inode: InodeNumber, kind: FileAttributes.Kind,
                      entry: EntryReply?, nextOffset: UInt64) -> Bool
}
