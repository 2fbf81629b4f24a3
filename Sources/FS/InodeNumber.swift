/// A FUSE inode number. Inode 1 is always the mount root (FUSE_ROOT_ID);
/// every other object's inode is a fixed function of its oid (oid + 2), so
/// `find -inum`, `du` and the hard-link detection of rsync/tar see stable
/// numbers across remounts. Virtual nodes (the `.zodbfs` control folder and
/// its files) live in a reserved range at the top of the 64-bit space that
/// no oid can reach.
public struct InodeNumber: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// FUSE_ROOT_ID.
    public static let root = InodeNumber(1)

    public static func < (a: InodeNumber, b: InodeNumber) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(rawValue) }
}
