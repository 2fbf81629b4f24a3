import FS
import Logging

/// What every callback reaches through `fuse_req_userdata`: the filesystem
/// and the few settings replies need. `FuseSession` hands libfuse one
/// retained reference (`Unmanaged.passRetained`) and releases it after
/// `fuse_session_destroy`, when no callback can run any more.
final class SessionContext: Sendable {
    let filesystem: ZODBFilesystem
    /// The timeout sent with `getattr` replies: the one the filesystem
    /// gives lookups (`EntryReply.attributeTimeout`).
    let attributeTimeout: Double
    let logger: Logger
    /// Buffers for READ replies too big to splice.
    let replyBuffers: ReplyBufferPool

    init(filesystem: ZODBFilesystem, workerThreads: Int, logger: Logger) {
        self.filesystem = filesystem
        attributeTimeout = filesystem.options.attributeTimeout
        self.logger = logger
        replyBuffers = ReplyBufferPool(capacity: workerThreads)
    }
}
