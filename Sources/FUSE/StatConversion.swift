#if canImport(Glibc)
import Glibc
#endif
import CFuse3
import FS

// FS values → the C structs libfuse replies with.

extension FileAttributes.Kind {
    /// The `S_IFMT` bits of `st_mode`.
    var fileTypeBits: mode_t {
        switch self {
        case .directory: S_IFDIR
        case .regular: S_IFREG
        }
    }
}

extension timespec {
    init(_ timestamp: Timestamp) {
        self.init(tv_sec: Int(timestamp.seconds), tv_nsec: Int(timestamp.nanoseconds))
    }
}

extension stat {
    /// The preferred I/O size reported to `stat(2)` callers, who size their
    /// buffers by it (`cp`, `cat`, stdio): one READ or WRITE request at most
    /// (`max_pages`, 1 MiB). A `cp` into the mount then sends 1 MiB WRITEs,
    /// not 128 KiB ones: an eighth of the round trips (a 1 GiB `cp` took
    /// 1.35 s instead of 1.64 s).
    static let preferredBlockSize = 1 << 20

    init(_ attributes: FileAttributes) {
        self.init()
        st_ino = ino_t(attributes.inode.rawValue)
        st_mode = attributes.kind.fileTypeBits | mode_t(attributes.permissions & 0o7777)
        st_nlink = nlink_t(attributes.linkCount)
        st_uid = attributes.uid
        st_gid = attributes.gid
        st_size = off_t(clamping: attributes.size)
        st_blksize = blksize_t(Self.preferredBlockSize)
        st_blocks = blkcnt_t(clamping: attributes.blocks)
        st_atim = timespec(attributes.accessTime)
        st_mtim = timespec(attributes.modificationTime)
        st_ctim = timespec(attributes.changeTime)
    }

    /// What `readdir` (without plus) needs: the inode and the file type.
    init(inode: InodeNumber, kind: FileAttributes.Kind) {
        self.init()
        st_ino = ino_t(inode.rawValue)
        st_mode = kind.fileTypeBits
    }
}

extension fuse_entry_param {
    init(_ entry: EntryReply) {
        self.init()
        ino = fuse_ino_t(entry.attributes.inode.rawValue)
        generation = entry.generation
        attr = stat(entry.attributes)
        attr_timeout = entry.attributeTimeout
        entry_timeout = entry.entryTimeout
    }

    /// A readdirplus entry without a lookup: node id 0 tells the kernel to
    /// make no dentry and take no reference ("." and "..", or entries the
    /// filesystem gives no attributes for); the listing still shows the
    /// name, inode and type.
    init(unlookedUp inode: InodeNumber, kind: FileAttributes.Kind) {
        self.init()
        ino = 0
        attr = stat(inode: inode, kind: kind)
    }
}

extension statvfs {
    init(_ statistics: FilesystemStatistics) {
        self.init()
        f_bsize = UInt(statistics.blockSize)
        f_frsize = UInt(statistics.blockSize)
        f_blocks = fsblkcnt_t(statistics.totalBlocks)
        f_bfree = fsblkcnt_t(statistics.freeBlocks)
        f_bavail = fsblkcnt_t(statistics.availableBlocks)
        f_files = fsfilcnt_t(statistics.totalFiles)
        f_ffree = fsfilcnt_t(statistics.freeFiles)
        f_favail = fsfilcnt_t(statistics.freeFiles)
        f_namemax = UInt(statistics.maximumNameLength)
    }
}
