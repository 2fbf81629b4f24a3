#if canImport(Glibc)
import Glibc
#endif
import CFuse3
import FS
import Logging
import Storage

/// Tells the kernel that what it cached is stale: an inode's pages and
/// attributes (`fuse_lowlevel_notify_inval_inode(se, ino, 0, 0)`) or a name
/// in a directory (`fuse_lowlevel_notify_inval_entry`). The filesystem gets
/// one as its `invalidator` while the session exists.
///
/// **Never call these from inside a request handler** (a `ZODBFilesystem`
/// method the bridge is running for a request), nor while holding a lock
/// such a handler may need. The notification is a write to /dev/fuse that
/// the kernel handles at once; invalidating needs locks that the request in
/// progress may hold (the parent directory during lookup, mkdir, unlink,
/// rename, create...; the inode during setattr, readdir, setxattr...; locked
/// pages during a READ), so it can wait for a reply that is never sent.
/// Send them from the filesystem's own threads, e.g. the one that follows
/// new transactions.
///
/// A kernel that has nothing cached for the inode or name answers ENOENT;
/// that is the normal case and is ignored.
final class KernelNotifier: KernelInvalidator {
    /// Unchecked: the session pointer is only read under the lock, and
    /// `FuseSession` frees the session only after `close()` and
    /// `waitUntilIdle` (libfuse's notify calls are thread-safe).
    private struct State: @unchecked Sendable {
        /// Nil once the session is being torn down.
        var session: OpaquePointer?
        /// Notifications running outside the lock.
        var inFlight = 0
    }

    private let state: Guarded<State>
    private let logger: Logger

    init(session: OpaquePointer, logger: Logger) {
        state = Guarded(State(session: session))
        self.logger = logger
    }

    func invalidateInode(_ inode: InodeNumber) {
        notify("inode \(inode)") { session in
            fuse_lowlevel_notify_inval_inode(session, fuse_ino_t(inode.rawValue), 0, 0)
        }
    }

    func invalidateEntry(parent: InodeNumber, name: String) {
        notify("entry \"\(name)\" in inode \(parent)") { session in
            name.withCString { cName in
                fuse_lowlevel_notify_inval_entry(session, fuse_ino_t(parent.rawValue), cName, strlen(cName))
            }
        }
    }

    /// Refuses further notifications; those already running finish.
    func close() {
        state.withLock { $0.session = nil }
    }

    /// Waits until no notification is running, for at most `timeout`
    /// seconds; false if one still is (the session must then not be freed).
    func waitUntilIdle(timeout: Double) -> Bool {
        var waited = 0.0
        while state.withLock({ $0.inFlight }) > 0 {
            if waited >= timeout { return false }
            usleep(1_000)
            waited += 0.001
        }
        return true
    }

    private func notify(_ what: @autoclosure () -> String, _ call: (OpaquePointer) -> Int32) {
        guard let session = state.withLock({ state -> OpaquePointer? in
            if state.session != nil { state.inFlight += 1 }
            return state.session
        }) else { return }
        let result = call(session)
        state.withLock { $0.inFlight -= 1 }
        switch -result {
        case 0, ENOENT:
            break
        case ENOTCONN, ENODEV, EBADF:
            // The mount is going away; nothing is cached any more.
            break
        default:
            logger.warning("kernel invalidation of \(what()) failed: \(String(cString: strerror(-result)))")
        }
    }
}
