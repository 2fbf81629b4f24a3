import ArgumentParser
import FS
import FUSE
import Foundation
import Logging
import Storage

/// `zodbfs mount [STORE] [MOUNTPOINT]`, also `zodbfs STORE MOUNTPOINT -o …`
/// (the default subcommand) as `mount -t fuse.zodbfs` and fstab run it.
/// Without `-f` the command returns once the mount is live (or with the
/// reason it failed); the filesystem then runs in a detached child
/// (`Daemon`), logging to syslog.
struct Mount: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Mount a Data.fs.")

    @Argument(help: "The Data.fs file.") var store: String = "var/Data.fs"
    @Argument(help: "An empty directory to mount on.") var mountpoint: String = "Mount"
    @Flag(name: [.customShort("f"), .long], help: "Stay in the foreground; log to stderr.") var foreground = false
    @Flag(name: .long, help: "Refuse every change; open Data.fs without taking its lock, so a running Zope may keep it.") var readOnly = false
    @Option(name: .long, help: "Mount this folder below the root instead, e.g. /site/files.") var root: String = ""
    @Flag(name: .long, help: "Let other users (e.g. a web server) read the mount.") var allowOther = false
    @Option(name: [.customShort("o")], help: "Mount options, comma-separated: ro, rw, allow_other, uid=N, gid=N, umask=OCTAL, backup_dir=DIR, root=PATH, log_level=LEVEL, pack_rate=MB/s; others go to FUSE.") var fuseOptions: [String] = []
    @Option(name: .long, help: "trace, debug, info (default), notice, warning, error or critical.") var logLevel: String?
    @Option(name: .long, help: "Worker threads serving requests.") var threads: Int = 8
    @Flag(name: .long, help: "Read-only mounts: do not watch Data.fs for transactions written by other processes.") var noFollow = false
    @Option(name: .long, help: "The repozo repository that .zodbfs/backup writes into.") var backupDir: String?
    @Flag(name: .long, help: "Compress the backups .zodbfs/backup writes.") var backupGzip = false
    @Option(name: .long, help: "Limit what a pack started through .zodbfs/pack reads and writes, in MB/s.") var packRate: Double?

    func validate() throws {
        guard threads >= 1 && threads <= 256 else { throw ValidationError("--threads must be between 1 and 256") }
        if let logLevel, Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level \(logLevel): unknown level") }
        if let packRate, !(packRate > 0) { throw ValidationError("--pack-rate must be above 0 (MB/s)") }
    }

    func run() throws {
        if !foreground, Daemon.readyDescriptor == nil {
            try Daemon.spawnAndWait(arguments: Array(CommandLine.arguments.dropFirst()) + ["--foreground"])
            return
        }
        do {
            try mountAndServe()
        } catch {
            Daemon.reportFailure("\(error)")
            throw error
        }
    }

    private func mountAndServe() throws {
        let list = try MountOptionList(fuseOptions)
        let readOnly = list.readOnly ?? self.readOnly
        let allowOther = self.allowOther || list.allowOther
        let backupDir = list.backupDir ?? self.backupDir
        let level = Logger.Level(rawValue: list.logLevel ?? logLevel ?? "info") ?? .info
        let daemonized = Daemon.readyDescriptor != nil
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = daemonized ? SyslogLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "zodbfs")
        let storage = try StoreAccess.open(store, readOnly: readOnly, forMount: true)
        var options = ZODBFilesystem.Options()
        options.readOnly = readOnly
        options.rootPath = list.root ?? root
        options.follow = !noFollow
        options.logger = logger
        if let uid = list.uid { options.uid = uid }
        if let gid = list.gid { options.gid = gid }
        if let umask = list.umask { options.umask = umask & 0o777 }
        let filesystem: ZODBFilesystem
        do {
            filesystem = try ZODBFilesystem(storage: storage, options: options)
        } catch {
            throw CommandFailure("\(store): \(error)")
        }
        var backupJob: BackupJob?
        if let backupDir {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: backupDir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CommandFailure("--backup-dir \(backupDir): no such folder")
            }
            let repository = BackupRepository(path: URL(fileURLWithPath: backupDir).standardizedFileURL.path)
            let job = BackupJob(repository: repository, storage: storage, gzip: backupGzip, logger: logger)
            filesystem.install(job, as: .backup)
            backupJob = job
        }
        var packJob: PackJob?
        if !readOnly {
            let job = PackJob(storage: storage, bytesPerSecond: (list.packRate ?? packRate).map { $0 * 1e6 }, logger: logger)
            filesystem.install(job, as: .pack)
            packJob = job
        }
        let absoluteStore = URL(fileURLWithPath: store).standardizedFileURL.path
        let configuration = MountConfiguration(
            mountpoint: mountpoint, readOnly: options.readOnly, allowOther: allowOther,
            fsName: absoluteStore, extraOptions: list.fuse,
            workerThreads: threads, readAheadKiB: 1024, debug: false)
        let session: FuseSession
        do {
            session = try FuseSession(filesystem: filesystem, configuration: configuration)
        } catch {
            // FuseError names the mount point itself (missing, busy, stale, no /dev/fuse).
            throw CommandFailure("\(error)")
        }
        session.onReady = {
            logger.info("mounted \(absoluteStore) on \(mountpoint) (\(readOnly ? "read-only" : "read-write"), \(storage.objectCount) objects)")
            Daemon.reportReady()
        }
        do {
            try session.run()
        } catch {
            throw CommandFailure("\(error)")
        }
        // A backup started through .zodbfs/backup finishes from the open
        // storage rather than leaving a half-written tmp.tmp behind.
        if let backupJob, backupJob.isRunning {
            logger.info("waiting for the running backup to finish")
            _ = backupJob.waitUntilIdle()
        }
        // So does a pack (stopping it would be safe, Data.fs is untouched
        // until the swap, but its work would be lost).
        if let packJob, packJob.isRunning {
            logger.info("waiting for the running pack to finish")
            _ = packJob.waitUntilIdle()
        }
        // Saves Data.fs.index on a writable store, as ZODB does at close.
        storage.close()
        logger.info("unmounted \(mountpoint)")
    }
}
