import ArgumentParser
import Foundation
import Storage

/// `zodbfs restore --repository DIR [--date TIME] --output FILE`: repozo's
/// `-R [-D] -o`, with every file checked before the output is replaced and
/// the backup's index installed beside it.
struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Restore a Data.fs from a repozo repository.")

    @Option(name: .long, help: "The repository folder.") var repository: String
    @Option(name: .long, help: "Restore the state as of this UTC time, yyyy-mm-dd[-hh[-mm[-ss]]] (default: the newest backup).") var date: String?
    @Option(name: .long, help: "The file to write; replaced only once the restore is complete and checked.") var output: String

    func validate() throws {
        if let date, RepositoryFile.stamp(parsing: date) == nil {
            throw ValidationError("--date: expected yyyy-mm-dd[-hh[-mm[-ss]]] (UTC), got \(date)")
        }
    }

    func run() throws {
        let stamp = date.flatMap(RepositoryFile.stamp(parsing:))
        let bar = ProgressBar()
        let started = Date()
        let result: RestoreResult
        do {
            result = try BackupRepository(path: repository).restore(upTo: stamp, output: output) {
                bar.update(phase: $0.phase, done: $0.done, total: $0.total)
            }
        } catch {
            bar.finish()
            throw CommandFailure("\(error)")
        }
        bar.finish()
        let seconds = String(format: "%.1f", Date().timeIntervalSince(started))
        print("restored \(result.size) bytes from \(result.files.count) backup file\(result.files.count == 1 ? "" : "s") to \(output) in \(seconds) s")
        if let index = result.index {
            print("installed the backup's index as \(index)")
        } else if let note = result.indexNote {
            print("no index installed: \(note)")
        }
    }
}
