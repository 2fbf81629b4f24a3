import Foundation
import Storage
import Synchronization

/// `.zodbfs/backup` on a mount made with `--backup-dir`: writing `full`,
/// `incremental` or `auto` starts a repozo-compatible backup of the mounted
/// store into that repository on a thread of its own; reading shows its
/// progress and the last result (DESIGN.md "Control files").
///
/// A backup only reads Data.fs, up to the end of the last transaction as of
/// its start, with `pread` on the storage's descriptor: the mount goes on
/// serving and committing meanwhile, and later commits wait for the next
/// backup.
public final class BackupJob: ControlJob {
    struct Status {
        var running = false
        var phase = ""
        var done: UInt64 = 0
        var total: UInt64 = 0
        var started: Date?
        var last: String?
        var refused: String?
    }

    let repository: BackupRepository
    let storage: FileStorage
    let gzip: Bool
    private let status = Mutex(Status())

    public init(repository: BackupRepository, storage: FileStorage, gzip: Bool = false) {
        self.repository = repository
        self.storage = storage
        self.gzip = gzip
    }

    public func start(_ command: String) throws(FSError) {
        guard let mode = BackupMode(rawValue: command) else {
            let reason = "unknown command \"\(command.prefix(80))\": write full, incremental or auto"
            status.withLock { $0.refused = reason }
            throw .invalidArgument(reason)
        }
        try status.withLock { (s: inout Status) throws(FSError) in
            guard !s.running else { throw .busy("a backup is running") }
            s = Status(running: true, phase: "starting", started: Date(), last: s.last)
        }
        Thread.detachNewThread { [self] in run(mode) }
    }

    private func run(_ mode: BackupMode) {
        let started = Date()
        let outcome: String
        do {
            let result = try repository.backup(storage, mode: mode, gzip: gzip, now: started.timeIntervalSince1970) { p in
                status.withLock { s in
                    s.phase = p.phase
                    s.done = p.done
                    s.total = p.total
                }
            }
            let seconds = String(format: "%.2f", Date().timeIntervalSince(started))
            switch result.kind {
            case .nothing:
                outcome = "ok: no changes since the last backup (\(seconds) s)"
            case .full, .incremental:
                outcome = "ok: \(result.kind.rawValue) backup of bytes \(result.start)-\(result.end) to \(result.file ?? "") (\(seconds) s)"
            }
        } catch {
            outcome = "failed: \(error)"
        }
        let stamp = ISO8601DateFormatter().string(from: started)
        status.withLock { s in
            s.running = false
            s.last = "\(stamp) \(mode.rawValue) \(outcome)"
        }
    }

    public func statusText() -> String {
        let s = status.withLock { $0 }
        var text = "repository: \(repository.path)\n"
        text += "state: \(s.running ? "running" : "idle")\n"
        if s.running {
            text += "phase: \(s.phase)\ndone_bytes: \(s.done)\ntotal_bytes: \(s.total)\n"
            if s.total > 0 { text += "percent: \(Int(Double(s.done) * 100 / Double(s.total)))\n" }
            if let started = s.started {
                let elapsed = max(Date().timeIntervalSince(started), 0.001)
                text += String(format: "rate_mb_s: %.1f\n", Double(s.done) / elapsed / 1e6)
            }
        }
        if let last = s.last { text += "last: \(last)\n" }
        if let refused = s.refused { text += "refused: \(refused)\n" }
        return text
    }
}
