import ArgumentParser
import FS
import Foundation
import Storage

/// `zodbfs backup STORE|MOUNTPOINT [--repository DIR] [--full|--incremental] [--gzip] [--quick]`
/// and `zodbfs backup --verify --repository DIR [--quick]`: repozo's `-B`
/// and `-V`, writing and checking the same repository layout
/// (`.fs`/`.deltafs`, `.fsz`/`.deltafsz`, `.dat`, `.index`).
///
/// Given a mount point, the backup is the mount's: the command goes to its
/// `.zodbfs/backup`, into the repository it was mounted with
/// (`--backup-dir`); `--repository`, if given, must name that folder, so a
/// script never writes somewhere it did not mean to.
struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Back a Data.fs up into a repozo repository, or verify a repository.",
        discussion: """
            Without --full or --incremental the kind is chosen as repozo -B chooses it: an increment when the \
            store continues the repository, a full backup when it was packed or replaced (or the repository is \
            empty), nothing when nothing was committed since the last backup. --incremental fails instead of \
            making a full backup.
            """)

    @Argument(help: "The Data.fs to back up, or a mount point (its .zodbfs/backup, into the mount's --backup-dir).") var store: String?
    @Option(name: .long, help: "The repository folder (for a mount point: the one it was mounted with, or omitted).") var repository: String?
    @Flag(name: .long, help: "Write a full backup even if an increment would do.") var full = false
    @Flag(name: .long, help: "Write an increment, or fail when only a full backup would do.") var incremental = false
    @Flag(name: .long, help: "Compress the backup file (.fsz/.deltafsz).") var gzip = false
    @Flag(name: .long, help: "Decide from the last backup only (repozo -Q); with --verify, check sizes only.") var quick = false
    @Flag(name: .long, help: "Check the size and md5 of every file of the repository (repozo -V).") var verify = false

    func validate() throws {
        if verify && store != nil { throw ValidationError("--verify checks a repository: give no STORE") }
        if verify && repository == nil { throw ValidationError("--verify needs --repository") }
        if !verify && store == nil { throw ValidationError("give the Data.fs (or mount point) to back up") }
        if full && incremental { throw ValidationError("--full and --incremental exclude each other") }
        if verify && (full || incremental || gzip) { throw ValidationError("--verify takes only --repository and --quick") }
    }

    var mode: BackupMode { full ? .full : incremental ? .incremental : .auto }

    func run() throws {
        if verify { return try verifyRepository() }
        guard let store else { return }
        if let control = ControlFile(mountpoint: store, name: "backup") {
            return control.isWritable ? try backUpThroughMount(control) : try backUpReadOnlyMount(control)
        }
        guard let repository else { throw ValidationError("--repository is needed to back up a Data.fs") }
        try backUp(store, into: repository, gzip: gzip)
    }

    /// The backup itself, in this process, with a progress bar.
    func backUp(_ store: String, into repository: String, gzip: Bool) throws {
        let repo = BackupRepository(path: repository)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: repo.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CommandFailure("\(repo.path): no such folder (create the repository first)")
        }
        let storage = try StoreAccess.open(store)
        defer { storage.close() }
        let bar = ProgressBar()
        let started = Date()
        let result: BackupResult
        do {
            result = try repo.backup(storage, mode: mode, quick: quick, gzip: gzip, now: started.timeIntervalSince1970) {
                bar.update(phase: $0.phase, done: $0.done, total: $0.total)
            }
        } catch {
            bar.finish()
            throw CommandFailure("\(error)")
        }
        bar.finish()
        print(Self.summary(result, seconds: Date().timeIntervalSince(started)))
    }

    static func summary(_ result: BackupResult, seconds: TimeInterval) -> String {
        switch result.kind {
        case .nothing:
            return "nothing to do: \(result.reason)"
        case .full, .incremental:
            return "\(result.kind.rawValue) backup of bytes \(result.start)-\(result.end) (\(ProgressBar.megabytes(result.bytes))) "
                + "to \(result.file ?? "") in \(String(format: "%.1f", seconds)) s: \(result.reason)"
        }
    }

    func verifyRepository() throws {
        guard let repository else { return }
        let repo = BackupRepository(path: repository)
        let bar = ProgressBar()
        let problems: [BackupError]
        do {
            problems = try repo.verify(quick: quick) { bar.update(phase: $0.phase, done: $0.done, total: $0.total) }
        } catch {
            bar.finish()
            throw CommandFailure("\(error)")
        }
        bar.finish()
        guard problems.isEmpty else { throw CommandFailure(problems.map(\.description).joined(separator: "\n")) }
        print("\(repo.path): every backup has its recorded size\(quick ? "" : " and checksum")")
    }
}

extension Backup {
    /// A backup run by a mount: the command goes to its control file, the
    /// status is polled until the job is done.
    func backUpThroughMount(_ control: ControlFile) throws {
        let before = try control.status()
        guard let mounted = before["repository"] else {
            throw CommandFailure("\(control.mountpoint) has no backup repository: \(before["reason"] ?? "mount it with --backup-dir DIR")")
        }
        if let repository, Self.canonical(repository) != Self.canonical(mounted) {
            throw CommandFailure("\(control.mountpoint) backs up into \(mounted), not \(repository): omit --repository or give that folder")
        }
        let command = BackupJob.Command(mode.rawValue + (quick ? " quick" : "") + (gzip ? " gzip" : ""), gzipByDefault: false)!
        try control.send(command.text)
        let bar = ProgressBar()
        while true {
            let status = try control.status()
            if status["state"] != "running" {
                bar.finish()
                if let error = status["last_error"] { throw CommandFailure(error) }
                let seconds = Double(status["last_duration_s"] ?? "") ?? 0
                switch status["last_kind"] {
                case "nothing":
                    print("nothing to do: \(status["last_reason"] ?? "")")
                default:
                    print("\(status["last_kind"] ?? "?") backup of bytes \(status["last_range"] ?? "?") "
                          + "(\(ProgressBar.megabytes(UInt64(status["last_bytes"] ?? "") ?? 0))) to \(status["last_file"] ?? "?") "
                          + "in \(String(format: "%.1f", seconds)) s: \(status["last_reason"] ?? "")")
                }
                return
            }
            bar.update(phase: status["phase"] ?? "running", done: UInt64(status["done_bytes"] ?? "") ?? 0,
                       total: UInt64(status["total_bytes"] ?? "") ?? 0)
            Thread.sleep(forTimeInterval: 0.2)
        }
    }

    /// A read-only mount is read-only for the kernel too, so its control
    /// file takes no command; the backup it would run — its store, into its
    /// repository — is made here instead (a backup only reads the store).
    func backUpReadOnlyMount(_ control: ControlFile) throws {
        let status = try control.status()
        guard let mounted = status["repository"] else {
            throw CommandFailure("\(control.mountpoint) has no backup repository: \(status["reason"] ?? "mount it with --backup-dir DIR")")
        }
        if let repository, Self.canonical(repository) != Self.canonical(mounted) {
            throw CommandFailure("\(control.mountpoint) backs up into \(mounted), not \(repository): omit --repository or give that folder")
        }
        guard let source = control.servedStore else {
            throw CommandFailure("\(control.mountpoint): cannot find the store it serves in /proc/mounts")
        }
        FileHandle.standardError.write(Data("\(control.mountpoint) is read-only: backing up \(source) into \(mounted) directly\n".utf8))
        try backUp(source, into: mounted, gzip: gzip || status["gzip"] == "yes")
    }

    /// A folder's path with symbolic links and `..` resolved, for comparing two names of it.
    static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path
    }
}
