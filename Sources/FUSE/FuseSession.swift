#if canImport(Glibc)
import Glibc
#endif
import CFuse3
import FS
import Logging

/// A mounted `ZODBFilesystem`: a libfuse low-level session on a mountpoint,
/// and the loop that serves it.
///
/// Life cycle: `init` creates the session (`fuse_session_new`) and mounts it
/// (`fuse_session_mount`); `run()` reports readiness through `onReady`,
/// serves requests until the mount ends, then unmounts and frees everything.
/// A session that is never run is unmounted when it is deinitialised.
///
/// Concurrency: `run()` serves requests with `fuse_session_loop_mt`, on up
/// to `workerThreads` libfuse threads (`fuse_loop_cfg_set_max_threads`; one
/// shared /dev/fuse descriptor, `clone_fd` 0). libfuse adds a thread whenever
/// all are busy, so calls into the filesystem arrive concurrently, several
/// per file (the kernel's readahead issues READs in parallel). The bridge
/// keeps no per-request state; the filesystem must be safe to call from any
/// thread. The session object itself is used from one thread: the one that
/// calls `init`, then `run()`.
public final class FuseSession {
    /// Called once the mount is live (after the session is mounted, before
    /// the loop starts), on the thread that called `run()`, before any other
    /// thread of the session exists, so it may daemonize (`fork`) or report
    /// readiness. The first requests, among them the kernel's INIT, are
    /// served after it returns. A parent that forks here must leave with
    /// `_exit`: letting its copy of the session deinitialise would unmount
    /// the child's mount.
    public var onReady: (@Sendable () -> Void)?

    public let configuration: MountConfiguration

    private enum Phase { case mounted, running, finished }

    private var phase = Phase.mounted
    /// `struct fuse_session *`.
    private let session: OpaquePointer
    /// The reference libfuse holds as userdata; released after `fuse_session_destroy`.
    private let context: Unmanaged<SessionContext>
    private let notifier: KernelNotifier
    private let mountpoint: Mountpoint
    private let filesystem: ZODBFilesystem
    private let signalsInstalled: Bool
    private let logger: Logger

    /// Creates the session and mounts it. Signal handlers for SIGINT,
    /// SIGTERM and SIGHUP are installed from here on, so a signal before
    /// `run()` still leads to a clean unmount instead of a stale mount.
    ///
    /// - Throws: `FuseError` naming the mountpoint and the cause: missing,
    ///   not a directory, already mounted on (busy), a stale FUSE mount, no
    ///   /dev/fuse, not permitted, or options libfuse rejects.
    public init(filesystem: ZODBFilesystem, configuration: MountConfiguration) throws(FuseError) {
        try configuration.validate()
        let mountpoint = try Mountpoint.resolve(configuration.mountpoint)
        try Mountpoint.checkDevice()

        var logger = Logger(label: "zodbfs.fuse")
        if configuration.debug { logger.logLevel = .debug }
        LibfuseLog.install(debug: configuration.debug)
        _ = LibfuseLog.takeErrors()

        let context = Unmanaged.passRetained(
            SessionContext(filesystem: filesystem, workerThreads: configuration.workerThreads, logger: logger))
        var operations = LowLevelOperations.make()
        let created = Self.withArguments(configuration.arguments) { arguments in
            cfuse_session_new(arguments, &operations, MemoryLayout<fuse_lowlevel_ops>.size, context.toOpaque())
        }
        guard let session = created else {
            context.release()
            throw FuseError(.invalidOptions, detail: LibfuseLog.takeErrors().joined(separator: "; "))
        }
        guard fuse_session_mount(session, mountpoint.path) == 0 else {
            fuse_session_destroy(session)
            context.release()
            throw Self.mountFailure(path: configuration.mountpoint, messages: LibfuseLog.takeErrors())
        }

        self.configuration = configuration
        self.session = session
        self.context = context
        self.mountpoint = mountpoint
        self.filesystem = filesystem
        self.logger = logger
        notifier = KernelNotifier(session: session, logger: logger)
        filesystem.invalidator = notifier
        if let error = SignalHandling.install(for: session) {
            logger.warning("no signal handlers (\(String(cString: strerror(error)))): SIGTERM will leave a stale mount")
            signalsInstalled = false
        } else {
            signalsInstalled = true
        }
        logger.info("mounted \(configuration.fsName) on \(mountpoint.path)")
        if SpliceCapacity.pipeLimit != .max {
            logger.info("""
                pipes are limited to \(SpliceCapacity.pipeLimit >> 10) KiB: READ replies that do not fit one \
                are copied instead of spliced
                """)
        }
    }

    deinit {
        if phase == .mounted { tearDown(readiness: nil, readinessThread: nil) }
    }

    /// Serves the mount until it is unmounted (`zodbfs unmount`, `umount`)
    /// or the process gets SIGINT, SIGTERM or SIGHUP; then stops the
    /// filesystem's background work, unmounts cleanly and returns. Blocks the
    /// calling thread throughout.
    ///
    /// - Throws: `FuseError` if the loop failed (the mount is still cleaned
    ///   up), or if the session already ran.
    public func run() throws(FuseError) {
        guard phase == .mounted else {
            throw FuseError(.notMounted, path: mountpoint.path, detail: "the session has already run")
        }
        phase = .running
        onReady?()
        if signalsInstalled { SignalHandling.deliverToCurrentThread() }

        let readiness = MountReadiness(mountpoint: mountpoint.path, underlyingDevice: mountpoint.device,
                                       readAheadKiB: configuration.readAheadKiB, filesystem: filesystem,
                                       logger: logger)
        let readinessThread = BackgroundThread.start { readiness.complete() }
        if readinessThread == nil {
            logger.error("could not start the readiness thread: readahead stays at the kernel default")
        }

        let loopConfiguration = fuse_loop_cfg_create()
        if let loopConfiguration {
            fuse_loop_cfg_set_max_threads(loopConfiguration, UInt32(configuration.workerThreads))
            fuse_loop_cfg_set_clone_fd(loopConfiguration, 0)
        }
        let result = cfuse_session_loop_mt(session, loopConfiguration)
        if let loopConfiguration { fuse_loop_cfg_destroy(loopConfiguration) }

        tearDown(readiness: readiness, readinessThread: readinessThread)
        // 0: unmounted from outside; > 0: the signal that ended the loop; < 0: -errno.
        if result < 0 {
            throw FuseError(.sessionFailed, path: mountpoint.path, errno: -result)
        }
        logger.info("unmounted \(mountpoint.path)\(result > 0 ? " on signal \(result)" : "")")
    }

    /// Stops background work, unmounts and frees the session. The order
    /// matters: the filesystem stops (and with it any invalidations) while
    /// the mount still exists; the readiness thread may be blocked in a
    /// `stat` of the mountpoint until the unmount ends the connection; the
    /// session is freed only when no notification uses it any more.
    private func tearDown(readiness: MountReadiness?, readinessThread: BackgroundThread?) {
        if readiness?.beginShutdown() == true { filesystem.stop() }
        notifier.close()
        filesystem.invalidator = nil
        fuse_session_unmount(session)
        readinessThread?.join()
        if signalsInstalled { SignalHandling.remove(for: session) }
        if notifier.waitUntilIdle(timeout: 5) {
            fuse_session_destroy(session)
            context.release()
        } else {
            logger.error("a kernel notification is still running; the FUSE session is left allocated")
        }
        phase = .finished
    }

    /// Runs `body` with a `fuse_args` holding `arguments`, then frees what
    /// libfuse's option parser allocated in it.
    private static func withArguments<Result>(_ arguments: [String],
                                              _ body: (UnsafeMutablePointer<fuse_args>) -> Result) -> Result {
        var strings = arguments.map { strdup($0) }
        defer { strings.forEach { free($0) } }
        return strings.withUnsafeMutableBufferPointer { argv in
            var fuseArguments = cfuse_args_init(Int32(argv.count), argv.baseAddress)
            defer { fuse_opt_free_args(&fuseArguments) }
            return body(&fuseArguments)
        }
    }

    /// Classifies a failed `fuse_session_mount` by what libfuse logged.
    private static func mountFailure(path: String, messages: [String]) -> FuseError {
        let detail = messages.joined(separator: "; ")
        let code: FuseError.Code
        if detail.contains("Operation not permitted") || detail.contains("Permission denied")
            || detail.contains("only allowed if") {
            code = .notPermitted
        } else if detail.contains("Device or resource busy") {
            code = .mountpointBusy
        } else if detail.contains("device not found") || detail.contains("No such device") {
            code = .deviceUnavailable
        } else if detail.contains("Transport endpoint is not connected") {
            code = .mountpointStale
        } else {
            code = .mountFailed
        }
        return FuseError(code, path: path, detail: detail.isEmpty ? nil : detail)
    }
}
