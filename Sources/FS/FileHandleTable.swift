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

    private struct State {
        var next: UInt64 = 1
        var open: [UInt64: Body] = [:]
    }

    private let state = Guarded(State())

    func insert(_ body: Body) -> UInt64 {
        state.withLock { s in
            let h = s.next
            s.next += 1
            s.open[h] = body
            return h
        }
    }

    func body(_ handle: UInt64) -> Body? {
        state.withLock { $0.open[handle] }
    }

    @discardableResult
    func remove(_ handle: UInt64) -> Body? {
        state.withLock { $0.open.removeValue(forKey: handle) }
    }
}
