import Storage

/// Open files and directories by handle number.
///
/// A handle pins what was current at `open`: the revision's chunk table or
/// inline bytes, a control file's snapshot, a directory's listing. A new
/// transaction therefore never changes bytes under an open reader (as with a
/// file replaced by rename on a local disk); the next open sees the new one.
/// Handles on a file being written through the mount are the exception: they
/// share its ``OpenFile``, as descriptors of one inode do on a disk.
final class FileHandleTable: Sendable {
    enum Body: Sendable {
        case bytes([UInt8])
        case chain(ChunkTable)
        case directory([DirectoryItem])
        /// A file open for writing: reads see the uncommitted bytes, and
        /// its close commits them.
        case writable(OpenFile)
        /// A file opened for reading while another handle writes it: reads
        /// see the uncommitted bytes too, but its close commits nothing —
        /// a reader closing must not put a half-written body into the
        /// store, where a crash before the writer's close would leave it.
        case reading(OpenFile)
        /// A control file opened for writing: each write is a command.
        case command(ControlNode)
    }

    struct DirectoryItem: Sendable {
        var name: String
        var inode: InodeNumber
        var kind: FileAttributes.Kind
        /// Nil for "." and "..", which the kernel does not look up.
        var oid: OID?
    }

    private struct Entry {
        var body: Body
        /// The file whose stored revision `body` is a snapshot of.
        var pinned: InodeNumber?
    }

    private struct State {
        var next: UInt64 = 1
        var open: [UInt64: Entry] = [:]
        /// How many open handles pin each inode (``insert(_:pinning:)``).
        var pinCount: [InodeNumber: Int] = [:]
    }

    private let state = Guarded(State())

    /// A new handle; `pinning` names the file when `body` is a snapshot of
    /// its stored revision (a `.chain` or inline `.bytes` of a file).
    func insert(_ body: Body, pinning inode: InodeNumber? = nil) -> UInt64 {
        state.withLock { s in
            let h = s.next
            s.next += 1
            s.open[h] = Entry(body: body, pinned: inode)
            if let inode { s.pinCount[inode, default: 0] += 1 }
            return h
        }
    }

    func body(_ handle: UInt64) -> Body? {
        state.withLock { $0.open[handle]?.body }
    }

    /// Whether a handle reads `inode` from a snapshot of its stored
    /// revision: such a reader sees a write through the mount only through
    /// the kernel's page cache, so a writer must then not bypass it.
    func pinsRevision(_ inode: InodeNumber) -> Bool {
        state.withLock { $0.pinCount[inode] != nil }
    }

    @discardableResult
    func remove(_ handle: UInt64) -> Body? {
        state.withLock { s in
            guard let entry = s.open.removeValue(forKey: handle) else { return nil }
            if let inode = entry.pinned {
                let left = s.pinCount[inode, default: 1] - 1
                s.pinCount[inode] = left > 0 ? left : nil
            }
            return entry.body
        }
    }
}
