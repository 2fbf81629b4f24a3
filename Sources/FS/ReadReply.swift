import SystemPackage
#if canImport(Glibc)
import Glibc
#endif
/// The answer to a `read`: either bytes already in memory (inline file data,
/// control files) or byte ranges of the Data.fs file that the bridge hands to
/// `fuse_reply_data` as fd buffers, so payload moves by splice and never
/// through a Swift allocation.
public enum ReadReply: Sendable {
    case bytes([UInt8])
    /// Ranges of `descriptor`, in order; their lengths add up to the reply size.
    case fileRanges(descriptor: Int32, ranges: [FileRange])
    /// Parts of records already in memory (a chain read over ZEO), in
    /// order: the bridge hands them to the kernel as one I/O vector, so a
    /// 1 MiB read is not first copied into a 1 MiB array of its own.
    case pieces([ArraySlice<UInt8>])
}

/// `length` bytes at absolute `offset` of a file.
public struct FileRange: Sendable, Equatable {
    public var offset: UInt64
    public var length: Int
    public init(offset: UInt64, length: Int) {
        self.offset = offset
        self.length = length
    }
}

/// How the kernel should treat an open file.
public struct OpenReply: Sendable {
    public var handle: UInt64
    /// Keep the page cache from the previous open: true while the file's
    /// revision (its tid) is unchanged since the kernel last cached it.
    public var keepCache: Bool
    /// Bypass the page cache: for control files whose content is made per
    /// read, and for write-only handles (``OpenReply/writeOnlyBypassesCache(_:)``).
    public var directIO: Bool
    public init(handle: UInt64, keepCache: Bool, directIO: Bool) {
        self.handle = handle
        self.keepCache = keepCache
        self.directIO = directIO
    }

    /// Whether a handle opened with `flags` writes around the kernel's page
    /// cache: one that cannot read (`O_WRONLY`: `cp`, `rsync`, `tar x`,
    /// shell redirections). Through the cache, every byte of an upload was
    /// copied into the kernel's pages for the file, then into the spool,
    /// then into `Data.fs` — three fresh page-cache copies, which dominated
    /// its time (a 1 GiB `cp` took 4–8 s, 2 s without).
    ///
    /// Coherence: nothing reads back through such a handle; the kernel drops
    /// cached pages of the range a direct write covers; readers that open
    /// meanwhile share the writer's bytes. A reader that pinned the stored
    /// revision before the writer came would not see them, so then the
    /// writer keeps the cache (`openForWriting`). Handles that also read keep
    /// it too, and with it shared `mmap`, which direct I/O does not allow.
    public static func writeOnlyBypassesCache(_ flags: Int32) -> Bool {
        flags & O_ACCMODE == O_WRONLY
    }
}

/// Implemented by the FUSE bridge so FS can tell the kernel that cached
/// attributes, pages or names are stale (follow mode, later commits). Calls
/// come from FS's own threads, never from inside a FUSE request handler.
public protocol KernelInvalidator: AnyObject, Sendable {
    func invalidateInode(_ inode: InodeNumber)
    func invalidateEntry(parent: InodeNumber, name: String)
}

extension ReadReply {
    /// The reply's bytes in memory, for the few callers that need them
    /// rather than a splice (content sniffing, a partly written file). Ranges
    /// are read from the reply's own descriptor: after a pack swapped files,
    /// their positions are still those of the file they were found in.
    /// `path` names that file in errors.
    public func assembled(path: String) throws(FSError) -> [UInt8] {
        switch self {
        case .bytes(let bytes): return bytes
        case .fileRanges(let descriptor, let ranges):
            var bytes: [UInt8] = []
            for range in ranges { bytes += try range.read(from: descriptor, path: path) }
            return bytes
        case .pieces(let pieces):
            return Array(pieces.joined())
        }
    }

    /// How many bytes the reply carries.
    public var count: Int {
        switch self {
        case .bytes(let bytes): bytes.count
        case .fileRanges(_, let ranges): ranges.reduce(0) { $0 + $1.length }
        case .pieces(let pieces): pieces.reduce(0) { $0 + $1.count }
        }
    }
}

extension FileRange {
    /// The range's bytes, read with `pread` from `descriptor` (the file at
    /// `path`); EIO when the file ends first.
    func read(from descriptor: Int32, path: String) throws(FSError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: length)
        let got: Int
        do {
            got = try FileDescriptor(rawValue: descriptor).readFully(fromAbsoluteOffset: offset, count: length, into: &bytes, at: 0)
        } catch {
            throw .storage(.io(path: path, operation: "pread", errno: error.rawValue))
        }
        guard got == length else { throw .storage(.io(path: path, operation: "pread (unexpected end of file)", errno: EIO)) }
        return bytes
    }
}
