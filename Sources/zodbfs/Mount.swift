import ArgumentParser
import FS
import FUSE
import Foundation
import Logging
import Storage

/// `zodbfs mount [STORE] [MOUNTPOINT]`. Without `-f` the command returns
/// once the mount is live (or with the reason it failed); the filesystem
/// then runs in a detached child (`Daemon`).
struct Mount: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Mount a Data.fs.")

    @Argument(help: "The Data.fs file.") var store: String = "var/Data.fs"
    @Argument(help: "An empty directory to mount on.") var mountpoint: String = "Mount"
    @Flag(name: [.customShort("f"), .long], help: "Stay in the foreground; log to stderr.") var foreground = false
    @Flag(name: .long, help: "Refuse every change; open Data.fs without taking its lock, so a running Zope may keep it.") var readOnly = false
    @Option(name: .long, help: "Mount this folder below the root instead, e.g. /site/files.") var root: String = ""
    @Flag(name: .long, help: "Let other users (e.g. a web server) read the mount.") var allowOther = false
    @Option(name: [.customShort("o")], help: "FUSE mount options, comma-separated.") var fuseOptions: [String] = []
    @Option(name: .long, help: "Worker threads serving requests.") var threads: Int = 8
    @Flag(name: .long, help: "Read-only mounts: do not watch Data.fs for transactions written by other processes.") var noFollow = false
    @Option(name: .long, help: "The repozo repository that .zodbfs/backup writes into.") var backupDir: String?
    @Flag(name: .long, help: "Compress the backups .zodbfs/backup writes.") var backupGzip = false

    func validate() throws {
        guard threads >= 1 && threads <= 256 else { throw ValidationError("--threads must be between 1 and 256") }
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
        let logger: Logger = {
            var logger = Logger(label: "zodbfs")
            logger.logLevel = .info
            return logger
        }()
        let storage = try StoreAccess.open(store, readOnly: readOnly, forMount: true)
        var options = ZODBFilesystem.Options()
        options.readOnly = readOnly
        options.rootPath = root
        options.follow = !noFollow
        options.logger = logger
        let filesystem: ZODBFilesystem
        do {
            filesystem = try ZODBFilesystem(storage: storage, options: options)
        } catch {
            throw CommandFailure("\(store): \(error)")
        }
        if let backupDir {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: backupDir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CommandFailure("--backup-dir \(backupDir): no such folder")
            }
            let repository = BackupRepository(path: URL(fileURLWithPath: backupDir).standardizedFileURL.path)
            filesystem.install(BackupJob(repository: repository, storage: storage, gzip: backupGzip), as: .backup)
        }
        let absoluteStore = URL(fileURLWithPath: store).standardizedFileURL.path
        let configuration = MountConfiguration(
            mountpoint: mountpoint, readOnly: options.readOnly, allowOther: allowOther,
            fsName: absoluteStore, extraOptions: fuseOptions.flatMap { $0.split(separator: ",").map(String.init) },
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
        // Saves Data.fs.index on a writable store, as ZODB does at close.
        storage.close()
        logger.info("unmounted \(mountpoint)")
    }
}
