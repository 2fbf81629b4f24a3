import ArgumentParser
import Foundation
import Storage

/// `zodbfs backup STORE --repository DIR [--full|--incremental] [--gzip] [--quick]`
/// and `zodbfs backup --verify --repository DIR`: repozo's `-B` and `-V`,
/// writing and checking the same repository layout (`.fs`/`.deltafs`,
/// `.fsz`/`.deltafsz`, `.dat`, `.index`).
struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Back a Data.fs up into a repozo repository, or verify a repository.")

    @Argument(help: "The Data.fs to back up, or a mount point (its .zodbfs/backup, into the mount's --backup-dir).") var store: String?
    @Option(name: .long, help: "The repository folder (for a mount point: the one it was mounted with).") var repository: String?
    @Flag(name: .long, help: "Write a full backup even if an increment would do.") var full = false
    @Flag(name: .long, help: "Write an increment (a full backup when the store was packed or the repository is empty).") var incremental = false
    @Flag(name: .long, help: "Compress the backup file (.fsz/.deltafsz).") var gzip = false
    @Flag(name: .long, help: "Decide from the last backup's checksum only; with --verify, check sizes only.") var quick = false
    @Flag(name: .long, help: "Check the size and md5 of every file of the repository (repozo -V).") var verify = false

    func validate() throws {
        if verify && store != nil { throw ValidationError("--verify checks a repository: give no STORE") }
        if !verify && store == nil { throw ValidationError("give the Data.fs to back up") }
        if full && incremental { throw ValidationError("--full and --incremental exclude each other") }
    }

    func run() throws {
        if let store, let control = ControlFile(mountpoint: store, name: "backup") {
            try backUpThroughMount(control)
            return
        }
        guard let repository else { throw ValidationError("--repository is needed") }
        let repo = BackupRepository(path: repository)
        let bar = ProgressBar()
        defer { bar.finish() }
        if verify {
            let problems: [BackupError]
            do {
                problems = try repo.verify(quick: quick) { bar.update(phase: $0.phase, done: $0.done, total: $0.total) }
            } catch {
                throw CommandFailure("\(error)")
            }
            bar.finish()
            guard problems.isEmpty else {
                throw CommandFailure(problems.map(\.description).joined(separator: "\n"))
            }
            print("\(repo.path): every backup has its recorded size\(quick ? "" : " and checksum")")
            return
        }
        guard let store else { return }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: repo.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CommandFailure("\(repo.path): no such folder (create the repository first)")
        }
        let storage = try StoreAccess.open(store)
        defer { storage.close() }
        let result: BackupResult
        do {
            result = try repo.backup(storage, mode: full ? .full : .incremental, quick: quick, gzip: gzip,
                                     now: Date().timeIntervalSince1970) { bar.update(phase: $0.phase, done: $0.done, total: $0.total) }
        } catch {
            throw CommandFailure("\(error)")
        }
        bar.finish()
        switch result.kind {
        case .nothing: print("no changes since the last backup: nothing to do")
        case .full, .incremental:
            print("\(result.kind.rawValue) backup: bytes \(result.start)–\(result.end) of \(store) in \(result.file ?? "")")
        }
    }
}

extension Backup {
    /// A backup run by a mount: the command goes to its control file, the
    /// status is polled until the job is done.
    func backUpThroughMount(_ control: ControlFile) throws {
        if gzip || quick { throw ValidationError("--gzip and --quick are for a Data.fs; a mount backs up as it was mounted") }
        let before = try control.status()
        if let repository, let line = before["repository"],
           URL(fileURLWithPath: repository).standardizedFileURL.path != line {
            throw CommandFailure("\(control.mountpoint) backs up into \(line), not \(repository)")
        }
        try control.send(full ? "full" : incremental ? "incremental" : "auto")
        let bar = ProgressBar()
        defer { bar.finish() }
        while true {
            let status = try control.status()
            if status["state"] != "running" {
                bar.finish()
                let last = status["last"] ?? "no result"
                guard !last.contains(" failed: ") else { throw CommandFailure(last) }
                print(last)
                return
            }
            bar.update(phase: status["phase"] ?? "running", done: UInt64(status["done_bytes"] ?? "") ?? 0,
                       total: UInt64(status["total_bytes"] ?? "") ?? 0)
            Thread.sleep(forTimeInterval: 0.2)
        }
    }
}

/// `zodbfs restore --repository DIR [--date TIME] --output FILE`: repozo's
/// `-R [-D]`, with every file checked and the index installed.
struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Restore a Data.fs from a repozo repository.")

    @Option(name: .long, help: "The repository folder.") var repository: String
    @Option(name: .long, help: "Restore the state as of this UTC time, yyyy-mm-dd[-hh[-mm[-ss]]] (default: the newest).") var date: String?
    @Option(name: .long, help: "The file to write (replaced only once the restore is complete).") var output: String

    func run() throws {
        var stamp: String?
        if let date {
            guard let parsed = RepositoryFile.stamp(parsing: date) else {
                throw ValidationError("--date: expected yyyy-mm-dd[-hh[-mm[-ss]]], got \(date)")
            }
            stamp = parsed
        }
        let bar = ProgressBar()
        defer { bar.finish() }
        let size: UInt64
        do {
            size = try BackupRepository(path: repository).restore(upTo: stamp, output: output) {
                bar.update(phase: $0.phase, done: $0.done, total: $0.total)
            }
        } catch {
            throw CommandFailure("\(error)")
        }
        bar.finish()
        print("restored \(size) bytes to \(output)")
    }
}
