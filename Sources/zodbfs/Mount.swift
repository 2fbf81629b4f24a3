import ArgumentParser
import FS
import FUSE
import Foundation
import Logging
import Storage
import ZEO

/// `zodbfs mount [STORE] [MOUNTPOINT]`, also `zodbfs STORE MOUNTPOINT -o …`
/// (the default subcommand) as `mount -t fuse.zodbfs` and fstab run it.
/// Without `-f` the command returns once the mount is live (or with the
/// reason it failed); the filesystem then runs in a detached child
/// (`Daemon`), logging to syslog.
struct Mount: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Mount a Data.fs.")

    @Argument(help: "The Data.fs file (default var/Data.fs); left out with --zeo.") var store: String?
    @Argument(help: "An empty directory to mount on (default Mount).") var mountpoint: String?
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
    @Option(name: .long, help: "Mount the storage a ZEO server serves instead of a Data.fs: HOST:PORT, PORT, or a unix socket path.") var zeo: String?
    @Option(name: .long, help: "The storage name on the ZEO server.") var zeoStorage: String = "1"
    @Option(name: .long, help: "MiB of objects a ZEO mount keeps in memory.") var zeoCache: Int = 64
    @Option(name: .long, help: "Seconds a ZEO mount's operations wait for a server that went away before failing with EIO.") var zeoWait: Double = 30
    @Option(name: .long, help: "Where a ZEO mount spools writes until they commit (default: a folder under /var/tmp named for the mount point).") var spoolDir: String?

    func validate() throws {
        guard threads >= 1 && threads <= 256 else { throw ValidationError("--threads must be between 1 and 256") }
        if let logLevel, Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level \(logLevel): unknown level") }
        if let packRate, !(packRate > 0) { throw ValidationError("--pack-rate must be above 0 (MB/s)") }
        if let zeo, ServerAddress(zeo) == nil { throw ValidationError("--zeo \(zeo): not HOST:PORT, PORT or a socket path") }
        if zeo != nil, store != nil, mountpoint != nil { throw ValidationError("--zeo mounts the server's storage: give only the mount point") }
        guard zeoCache >= 0, zeoWait > 0 else { throw ValidationError("--zeo-cache and --zeo-wait must be positive") }
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
        // With --zeo the one positional argument is the mount point.
        let store = zeo == nil ? self.store ?? "var/Data.fs" : ""
        let mountpoint = (zeo == nil ? self.mountpoint : self.mountpoint ?? self.store) ?? "Mount"
        var options = ZODBFilesystem.Options()
        let storage: any ObjectStorage
        if let zeo, let address = ServerAddress(zeo) {
            var zeoOptions = ZEOStorage.Options()
            zeoOptions.storageName = zeoStorage
            zeoOptions.readOnly = readOnly
            zeoOptions.cacheBytes = zeoCache << 20
            zeoOptions.waitForServer = zeoWait
            zeoOptions.logger = logger
            do {
                storage = try ZEOStorage(address: address, options: zeoOptions)
            } catch {
                throw CommandFailure("\(error)")
            }
            let absoluteMountpoint = URL(fileURLWithPath: mountpoint).standardizedFileURL.path
            options.spoolPath = spoolDir ?? "/var/tmp/zodbfs-" + absoluteMountpoint.split(separator: "/").joined(separator: "-") + ".spool"
        } else {
            storage = try StoreAccess.open(store, readOnly: readOnly, forMount: true)
            options.spoolPath = spoolDir
        }
        options.readOnly = readOnly
        options.rootPath = list.root ?? root
        // A ZEO mount always applies the server's invalidations.
        options.follow = !noFollow || zeo != nil
        options.logger = logger
        if let uid = list.uid { options.uid = uid }
        if let gid = list.gid { options.gid = gid }
        if let umask = list.umask { options.umask = umask & 0o777 }
        let filesystem: ZODBFilesystem
        do {
            filesystem = try ZODBFilesystem(storage: storage, options: options)
        } catch {
            throw CommandFailure("\(storage.name): \(error)")
        }
        var backupJob: BackupJob?
        if let backupDir {
            guard let storage = storage as? FileStorage else {
                throw CommandFailure("--backup-dir: back up a ZEO storage on the server, from its Data.fs (zodbfs backup or repozo)")
            }
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
        let absoluteStore = zeo.map { "zeo:\($0)" } ?? URL(fileURLWithPath: store).standardizedFileURL.path
        let configuration = MountConfiguration(
            mountpoint: mountpoint, readOnly: options.readOnly, allowOther: allowOther,
            fsName: absoluteStore, extraOptions: list.fuse,
            workerThreads: threads, readAheadKiB: MountConfiguration.splicedReadAheadKiB, debug: false)
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
