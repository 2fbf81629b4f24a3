import Foundation
import Logging
import Storage

/// `.zodbfs/backup` on a mount made with `--backup-dir`: writing `full`,
/// `incremental` or `auto` (``BackupMode``), optionally followed by `quick`
/// and/or `gzip`, starts a repozo-compatible backup of the mounted store
/// into that repository on a thread of its own; reading shows its progress
/// and the last result as `key: value` lines (DESIGN.md "Control files").
///
/// A backup only reads Data.fs, up to the end of the last transaction as of
/// its start, with `pread`: the mount goes on serving and committing
/// meanwhile, and later commits wait for the next backup. The repository
/// is fixed at mount time; nothing written to the file names a path.
public final class BackupJob: ControlJob {
    /// One parsed command.
    public struct Command: Sendable, Equatable {
        public var mode: BackupMode
        public var quick: Bool
        public var gzip: Bool

        /// `MODE [quick] [gzip]`; nil for anything else. `gzip` defaults to
        /// the mount's `--backup-gzip`.
        public init?(_ text: String, gzipByDefault: Bool) {
            let words = text.split(whereSeparator: \.isWhitespace).map(String.init)
            guard let first = words.first, let mode = BackupMode(rawValue: first) else { return nil }
            self.mode = mode
            quick = false
            gzip = gzipByDefault
            for word in words.dropFirst() {
                switch word {
                case "quick": quick = true
                case "gzip": gzip = true
                default: return nil
                }
            }
        }

        /// The command as written to the control file.
        public var text: String { ([mode.rawValue] + (quick ? ["quick"] : []) + (gzip ? ["gzip"] : [])).joined(separator: " ") }
    }

    /// The last backup's outcome.
    struct Outcome {
        var command: Command
        var started: Date
        var duration: TimeInterval
        var result: Result<BackupResult, BackupError>
    }

    struct Status {
        var running: Command?
        var started = Date()
        var phase = ""
        var done: UInt64 = 0
        var total: UInt64 = 0
        var phaseStarted = Date()
        var last: Outcome?
        var refused: String?
    }

    let repository: BackupRepository
    let storage: FileStorage
    let gzipByDefault: Bool
    /// One line per backup start, phase and result.
    let logger: Logger
    private let status = Guarded(Status())

    public init(repository: BackupRepository, storage: FileStorage, gzip: Bool = false, logger: Logger = Logger(label: "zodbfs")) {
        self.repository = repository
        self.storage = storage
        gzipByDefault = gzip
        self.logger = logger
    }

    public func start(_ text: String) throws(FSError) {
        guard let command = Command(text, gzipByDefault: gzipByDefault) else {
            let reason = "unknown command \"\(text.prefix(80))\": write full, incremental or auto, optionally followed by quick and/or gzip"
            status.withLock { $0.refused = reason }
            throw .invalidArgument(reason)
        }
        try status.withLock { (s: inout Status) throws(FSError) in
            if let running = s.running {
                s.refused = "\"\(command.text)\": a backup (\(running.text)) is running"
                throw .busy("a backup is running")
            }
            let now = Date()
            s.running = command
            s.started = now
            s.phase = "starting"
            s.done = 0
            s.total = 0
            s.phaseStarted = now
            s.refused = nil
        }
        Thread.detachNewThread { [self] in run(command) }
    }

    /// True while a backup runs.
    public var isRunning: Bool { status.withLock { $0.running != nil } }

    /// Waits until no backup runs (for tests and an orderly unmount).
    public func waitUntilIdle(timeout: TimeInterval = 3600) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while status.withLock({ $0.running != nil }) {
            if Date() > deadline { return false }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return true
    }

    private func run(_ command: Command) {
        let started = Date()
        logger.info("backup (\(command.text)) of \(storage.path) into \(repository.path) started")
        let result: Result<BackupResult, BackupError>
        do {
            result = .success(try repository.backup(storage, mode: command.mode, quick: command.quick, gzip: command.gzip,
                                                    now: started.timeIntervalSince1970) { p in
                let changed = status.withLock { s in
                    defer {
                        s.done = p.done
                        s.total = p.total
                    }
                    guard s.phase != p.phase else { return false }
                    s.phase = p.phase
                    s.phaseStarted = Date()
                    return true
                }
                if changed { logger.info("backup phase: \(p.phase)") }
            })
        } catch {
            result = .failure(error)
        }
        switch result {
        case .success(let backup):
            logger.info("backup (\(command.text)) done: \(backup.kind.rawValue)\(backup.file.map { " to \($0)" } ?? ""), bytes \(backup.start)-\(backup.end) in \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
        case .failure(let error):
            logger.error("backup (\(command.text)) failed: \(error)")
        }
        let outcome = Outcome(command: command, started: started, duration: Date().timeIntervalSince(started), result: result)
        status.withLock { s in
            s.running = nil
            s.last = outcome
        }
    }

    public func statusText() -> String {
        let s = status.withLock { $0 }
        var lines: [(String, String)] = [("repository", repository.path), ("gzip", gzipByDefault ? "yes" : "no")]
        if let running = s.running {
            lines.append(("state", "running"))
            lines.append(("command", running.text))
            lines.append(("started", Self.timestamp(s.started)))
            lines.append(("phase", s.phase))
            lines.append(("done_bytes", "\(s.done)"))
            lines.append(("total_bytes", "\(s.total)"))
            if s.total > 0 { lines.append(("percent", "\(min(100, s.done * 100 / s.total))")) }
            let elapsed = max(Date().timeIntervalSince(s.phaseStarted), 0.001)
            lines.append(("rate_mb_s", String(format: "%.1f", Double(s.done) / elapsed / 1e6)))
            lines.append(("elapsed_s", String(format: "%.1f", Date().timeIntervalSince(s.started))))
        } else {
            switch s.last?.result {
            case nil: lines.append(("state", "idle"))
            case .success: lines.append(("state", "done"))
            case .failure: lines.append(("state", "failed"))
            }
        }
        if let last = s.last {
            lines.append(("last_command", last.command.text))
            lines.append(("last_started", Self.timestamp(last.started)))
            lines.append(("last_duration_s", String(format: "%.2f", last.duration)))
            switch last.result {
            case .success(let result):
                lines.append(("last_kind", result.kind.rawValue))
                if let file = result.file { lines.append(("last_file", file)) }
                lines.append(("last_bytes", "\(result.bytes)"))
                lines.append(("last_range", "\(result.start)-\(result.end)"))
                lines.append(("last_reason", result.reason))
            case .failure(let error):
                lines.append(("last_error", error.description))
            }
        }
        if let refused = s.refused { lines.append(("refused", refused)) }
        return lines.map { "\($0.0): \($0.1.replacingOccurrences(of: "\n", with: " "))\n" }.joined()
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
