#if canImport(Glibc)
import Glibc
#endif
import FS
import Logging
import Storage

/// Finishes a mount once the kernel has completed INIT, on a thread of its
/// own while the session loop serves requests: raises the readahead window,
/// starts the filesystem's background work and maps in the daemon's code
/// (``ResidentCode``).
///
/// Why a thread and why after INIT: the kernel answers the INIT reply by
/// lowering the BDI's `ra_pages` to the `max_readahead` it offered (128 KiB
/// by default), so a value written earlier is lost; and anything that makes
/// the kernel send a request (a `stat` of the mountpoint) blocks until the
/// loop has processed INIT. So the thread `stat`s the mountpoint, which
/// returns only after INIT, takes the mount's device from `st_dev`, and then
/// writes `read_ahead_kb`.
final class MountReadiness: Sendable {
    private struct State {
        var shuttingDown = false
        var started = false
    }

    private let mountpoint: String
    /// `st_dev` of the directory before mounting: if a `stat` still shows it,
    /// the mount is gone and the BDI must not be touched.
    private let underlyingDevice: dev_t
    private let readAheadKiB: Int
    private let filesystem: ZODBFilesystem
    private let logger: Logger
    private let state = Guarded(State())

    init(mountpoint: String, underlyingDevice: dev_t, readAheadKiB: Int, filesystem: ZODBFilesystem, logger: Logger) {
        self.mountpoint = mountpoint
        self.underlyingDevice = underlyingDevice
        self.readAheadKiB = readAheadKiB
        self.filesystem = filesystem
        self.logger = logger
    }

    /// Runs on the readiness thread; returns once the mount is tuned and the
    /// filesystem started, or once it is clear the mount went away.
    func complete() {
        var status = stat()
        var result: Int32
        repeat { result = stat(mountpoint, &status) } while result != 0 && errno == EINTR
        guard result == 0 else {
            let error = errno
            if !state.withLock({ $0.shuttingDown }) {
                logger.warning("mount at \(mountpoint) did not come up: \(String(cString: strerror(error)))")
            }
            return
        }
        let started = state.withLock { state -> Bool in
            guard !state.shuttingDown, status.st_dev != underlyingDevice else { return false }
            tuneReadAhead(device: BackingDevice(device: status.st_dev))
            filesystem.start()
            state.started = true
            return true
        }
        guard started else { return }
        let mapped = ResidentCode.populate()
        logger.debug("mapped in \(mapped >> 20) MiB of the daemon's code")
    }

    /// Stops further readiness work; true if the filesystem was started and
    /// must be stopped.
    func beginShutdown() -> Bool {
        state.withLock { state in
            state.shuttingDown = true
            return state.started
        }
    }

    private func tuneReadAhead(device: BackingDevice) {
        guard readAheadKiB > 0 else { return }
        if let error = device.setReadAhead(kibibytes: readAheadKiB) {
            logger.notice("""
                could not set \(device.readAheadPath) to \(readAheadKiB): \(String(cString: strerror(error))); \
                reads stay at the kernel's readahead (\(device.readAhead().map { "\($0) KiB" } ?? "unknown"))
                """)
        } else {
            logger.info("readahead of \(mountpoint) (bdi \(device.major):\(device.minor)) set to \(readAheadKiB) KiB")
        }
    }
}
