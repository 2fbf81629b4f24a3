import CFuse3
import Logging

/// What the session asks of the kernel in INIT (the `init` callback). libfuse
/// 3.14 has already put its defaults into `want` (async read, parallel
/// dirops, auto data invalidation, readdirplus when both readdir ops exist,
/// splice read when `write_buf` exists); this adjusts them.
enum ConnectionSettings {
    /// The readahead INIT allows, as large as a READ can be (256 pages of
    /// `max_pages`). The kernel keeps the smaller of it and the BDI's window
    /// at mount time (128 KiB by default); `MountReadiness` raises the window
    /// once INIT is done.
    static let maximumReadahead: UInt32 = 1 << 20
    /// Outstanding background requests (readahead, async direct I/O) before
    /// the kernel throttles; its default is 12, little for parallel streams.
    static let maximumBackground: UInt32 = 64
    static let congestionThreshold: UInt32 = 48

    static func negotiate(_ connection: UnsafeMutablePointer<fuse_conn_info>, writebackCache: Bool, logger: Logger) {
        let capable = connection.pointee.capable
        var want = connection.pointee.want

        func request(_ capability: Int32) {
            let bit = UInt32(capability)
            if capable & bit != 0 { want |= bit }
        }
        func decline(_ capability: Int32) {
            want &= ~UInt32(capability)
        }

        // READ replies made of Data.fs ranges go file → pipe → /dev/fuse.
        request(FUSE_CAP_SPLICE_WRITE)
        request(FUSE_CAP_SPLICE_MOVE)
        // Several READs per handle in flight (readahead windows overlap).
        request(FUSE_CAP_ASYNC_READ)
        request(FUSE_CAP_PARALLEL_DIROPS)
        // Keep: a changed mtime or size on getattr drops stale cached pages.
        request(FUSE_CAP_AUTO_INVAL_DATA)
        // `ls -l` and `find` get attributes with the names. With AUTO the
        // kernel switches to plain readdir for callers that never stat.
        request(FUSE_CAP_READDIRPLUS)
        request(FUSE_CAP_READDIRPLUS_AUTO)
        // A writable mount lets the kernel gather writes in its page cache
        // and send them as 1 MiB WRITEs (tools write 64–128 KiB at a time),
        // a sixteenth of the round trips. Nothing is lost by it: the kernel
        // writes every dirty page back before it sends FLUSH (close) or
        // FSYNC, and only those commit. Nobody else writes the store while
        // the mount holds its lock, so the kernel's cached size and mtime
        // stay true. Mounts with other writers (read-only ones following a
        // Data.fs, ZEO mounts) keep it off: with it the kernel trusts its own
        // cached size of a file over the size the filesystem reports, so a
        // body another client replaced would keep its old length.
        if writebackCache { request(FUSE_CAP_WRITEBACK_CACHE) } else { decline(FUSE_CAP_WRITEBACK_CACHE) }
        // Splice on the receive side only pays for large WRITE payloads;
        // every other request would cost an extra copy out of the pipe.
        decline(FUSE_CAP_SPLICE_READ)

        connection.pointee.want = want
        connection.pointee.max_readahead = maximumReadahead
        connection.pointee.max_background = maximumBackground
        connection.pointee.congestion_threshold = congestionThreshold

        logger.info("""
            FUSE connection: kernel protocol 7.\(connection.pointee.proto_minor), \
            max_write \(connection.pointee.max_write), \
            capable 0x\(String(capable, radix: 16)), want 0x\(String(want, radix: 16))
            """)
    }
}
