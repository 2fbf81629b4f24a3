import CFuse3

/// The `fuse_lowlevel_ops` table: one C callback per FUSE operation, each a
/// non-capturing closure (the only kind Swift turns into a C function
/// pointer) that decodes its arguments, makes one `ZODBFilesystem` call and
/// replies. Per-session state comes through `fuse_req_userdata`, never
/// through captures or globals.
///
/// Callbacks run on the session loop's worker threads, several at once
/// (`fuse_session_loop_mt`), so the filesystem must be safe to call
/// concurrently; the bridge itself keeps no state between requests.
/// Operations left out of the table (readlink, locks, ioctl, poll, bmap,
/// lseek) are answered ENOSYS by libfuse, which the kernel remembers.
enum LowLevelOperations {
    static func make() -> fuse_lowlevel_ops {
        var operations = fuse_lowlevel_ops()
        operations.`init` = { userdata, connection in
            guard let userdata, let connection else { return }
            let context = Unmanaged<SessionContext>.fromOpaque(userdata).takeUnretainedValue()
            ConnectionSettings.negotiate(connection, writebackCache: context.filesystem.kernelMayCacheWrites,
                                         logger: context.logger)
        }
        installReading(into: &operations)
        installModifying(into: &operations)
        return operations
    }
}
