/// What `stat(2)` shows for a node. Times are seconds since the epoch with
/// nanosecond fractions, split so the FUSE bridge can fill `timespec` exactly.
public struct FileAttributes: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case directory, regular }

    public var inode: InodeNumber
    public var kind: Kind
    /// Permission bits only (e.g. 0o755); the bridge adds S_IFDIR/S_IFREG.
    public var permissions: UInt32
    public var size: UInt64
    public var linkCount: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var modificationTime: Timestamp
    /// Attributes change time; equals the mtime for objects (ZODB keeps one time per revision).
    public var changeTime: Timestamp
    public var accessTime: Timestamp

    public init(inode: InodeNumber, kind: Kind, permissions: UInt32, size: UInt64, linkCount: UInt32,
                uid: UInt32, gid: UInt32, modificationTime: Timestamp) {
        self.inode = inode
        self.kind = kind
        self.permissions = permissions
        self.size = size
        self.linkCount = linkCount
        self.uid = uid
        self.gid = gid
        self.modificationTime = modificationTime
        self.changeTime = modificationTime
        self.accessTime = modificationTime
    }

    /// 512-byte blocks, as `st_blocks` counts them.
    public var blocks: UInt64 { (size + 511) / 512 }
}

/// A point in time as `struct timespec` holds it.
public struct Timestamp: Sendable, Equatable, Comparable {
    public var seconds: Int64
    public var nanoseconds: Int32
    public init(seconds: Int64, nanoseconds: Int32) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }
    public init(_ timeInterval: Double) {
        let s = timeInterval.rounded(.down)
        seconds = Int64(s)
        nanoseconds = Int32(min(999_999_999, ((timeInterval - s) * 1e9).rounded()))
    }
    public var timeInterval: Double { Double(seconds) + Double(nanoseconds) / 1e9 }
    public static func < (a: Timestamp, b: Timestamp) -> Bool {
        (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
    }
}

/// A lookup reply: the attributes plus how long the kernel may cache them.
public struct EntryReply: Sendable {
    public var attributes: FileAttributes
    /// Bumped when an inode number is reused for another object (oids come back after a pack).
    public var generation: UInt64
    public var attributeTimeout: Double
    public var entryTimeout: Double
}

/// What `statfs(2)` reports for the mount.
public struct FilesystemStatistics: Sendable {
    public var blockSize: UInt64
    public var totalBlocks: UInt64
    public var freeBlocks: UInt64
    public var availableBlocks: UInt64
    public var totalFiles: UInt64
    public var freeFiles: UInt64
    public var maximumNameLength: UInt64
}
