import Foundation
import Logging
import Storage
import ZODB

/// `.zodbfs/pack` on a writable mount: writing `now`, a number of days, or an
/// ISO-8601 time starts a pack of the mounted store to that time on a thread
/// of its own, and the write returns at once; reading shows the live
/// progress (phase, bytes done of total, percent, objects, rate, ETA) and the
/// last pack's result (DESIGN.md "Control files").
///
/// The mount goes on serving and committing while the pack runs; see
/// ``Storage/FileStorage/pack(before:references:options:)`` for how the
/// files are swapped under it. Open files notice the swap by the storage's
/// generation and rebuild their chunk tables from oids.
public final class PackJob: ControlJob {
    struct Status {
        var running = false
        var progress: PackProgress?
        var started: Date?
        var stop: String?
        var last: String?
        var refused: String?
    }

    let storage: any ObjectStorage
    let bytesPerSecond: Double?
    /// The wall clock, for tests that pack to "now".
    let now: @Sendable () -> Date
    private let status = Guarded(Status())
    /// One line per pack start, phase and result (DESIGN.md: operators follow the log).
    let logger: Logger

    public init(storage: any ObjectStorage, bytesPerSecond: Double? = nil, logger: Logger = Logger(label: "zodbfs"),
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.storage = storage
        self.bytesPerSecond = bytesPerSecond
        self.logger = logger
        self.now = now
    }

    /// True while a pack runs.
    public var isRunning: Bool { status.withLock { $0.running } }

    /// Waits until no pack runs (an orderly unmount lets a pack finish).
    public func waitUntilIdle(timeout: TimeInterval = 86400) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning {
            if Date() > deadline { return false }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return true
    }

    /// The pack time a command names: `now`, a number of days before now
    /// (`0.5`, `7`), or an ISO-8601 time (`2026-12-01T00:00:00Z`; without a
    /// zone, UTC). Nil with the reason for anything else, or a time in the future.
    public static func packTime(_ command: String, now: Date) -> Result<Date, FSError> {
        let text = command.trimmingCharacters(in: .whitespacesAndNewlines)
        if text == "now" { return .success(now) }
        if let days = Double(text) {
            guard days.isFinite, days >= 0 else { return .failure(.invalidArgument("the number of days must be 0 or more, not \(text)")) }
            return .success(now.addingTimeInterval(-days * 86400))
        }
        if let date = parseISO8601(text) {
            guard date <= now.addingTimeInterval(1) else {
                return .failure(.invalidArgument("the pack time \(text) is in the future"))
            }
            return .success(date)
        }
        return .failure(.invalidArgument(
            "unknown command \"\(text.prefix(80))\": write now, a number of days, or an ISO-8601 time such as 2026-12-01T00:00:00Z"))
    }

    /// The whole of `text` as one of ``iso8601Forms`` (a space may stand
    /// for the `T`). Each form must take every character: they parse
    /// leniently, and a date alone would otherwise read the date of
    /// `2026-12-01 12:00` and drop its time.
    static func parseISO8601(_ text: String) -> Date? {
        let text = text.replacingOccurrences(of: " ", with: "T")
        for form in iso8601Forms {
            if let (end, date) = try? form.consuming(text, startingAt: text.startIndex, in: text.startIndex..<text.endIndex),
               end == text.endIndex {
                return date
            }
        }
        return nil
    }

    /// With a zone or without (UTC, as the formats' own default), with or
    /// without fractions of a second, or a date alone. `Date.ISO8601FormatStyle`
    /// rather than `ISO8601DateFormatter`, which formats through ICU. Making
    /// the first style still asks ICU for the system's time zone (15 MB of
    /// its data read cold), so `zodbfs pack --before SECONDS` makes none.
    static let iso8601Forms: [Date.ISO8601FormatStyle] = [
        Date.ISO8601FormatStyle(includingFractionalSeconds: true),
        Date.ISO8601FormatStyle(),
        Date.ISO8601FormatStyle().year().month().day().dateSeparator(.dash).dateTimeSeparator(.standard)
            .time(includingFractionalSeconds: true).timeSeparator(.colon),
        Date.ISO8601FormatStyle().year().month().day().dateSeparator(.dash).dateTimeSeparator(.standard)
            .time(includingFractionalSeconds: false).timeSeparator(.colon),
        Date.ISO8601FormatStyle().year().month().day().dateSeparator(.dash),
    ]

    public func start(_ command: String) throws(FSError) {
        let time: Date
        switch Self.packTime(command, now: now()) {
        case .success(let date): time = date
        case .failure(let error):
            status.withLock { $0.refused = error.description }
            throw error
        }
        try status.withLock { (s: inout Status) throws(FSError) in
            guard !s.running else { throw .busy("a pack is running") }
            s = Status(running: true, progress: nil, started: now(), stop: time.formatted(.iso8601), last: s.last)
        }
        Thread.detachNewThread { [self] in run(until: time) }
    }

    private func run(until time: Date) {
        let started = Date()
        let stop = time.formatted(.iso8601)
        guard let storage = storage as? FileStorage else { return runOnServer(until: time, started: started) }
        logger.info("pack of \(storage.path) to \(stop) started\(bytesPerSecond.map { String(format: " (at most %.0f MB/s)", $0 / 1e6) } ?? "")")
        var options = PackOptions(bytesPerSecond: bytesPerSecond)
        options.progress = { [self] progress in
            let previous = status.withLock { s in
                defer { s.progress = progress }
                return s.progress?.phase
            }
            if previous != progress.phase {
                logger.info("pack phase: \(progress.phase.rawValue) (\(String(format: "%.1f", progress.elapsed)) s in)")
            }
        }
        let outcome: String
        do {
            let result = try storage.pack(before: TID(timeIntervalSince1970: time.timeIntervalSince1970), options: options)
            outcome = Self.describe(result)
            logger.info("pack of \(storage.path) to \(stop): \(outcome)")
        } catch {
            outcome = "failed: \(error)"
            logger.error("pack of \(storage.path) to \(stop) failed: \(error) (errno \(error.errno))")
        }
        let stamp = started.formatted(.iso8601)
        status.withLock { s in
            s.running = false
            s.progress = nil
            s.last = "\(stamp) pack to \(stop) \(outcome)"
        }
    }

    /// A ZEO mount: the server packs its own file (`zeopack`'s call); its
    /// progress is not visible from here, only the start and the end.
    private func runOnServer(until time: Date, started: Date) {
        let stop = time.formatted(.iso8601)
        var outcome: String
        if let server = storage as? any ServerPackedStorage {
            logger.info("asking \(storage.name) to pack to \(stop)")
            let sizeBefore = storage.size
            do {
                try server.pack(before: time.timeIntervalSince1970)
                outcome = String(format: "ok: packed by the server, %llu -> %llu bytes (%.2f s)",
                                 sizeBefore, storage.size, Date().timeIntervalSince(started))
                logger.info("pack of \(storage.name) to \(stop): \(outcome)")
            } catch {
                outcome = "failed: \(error)"
                logger.error("pack of \(storage.name) to \(stop) failed: \(error)")
            }
        } else {
            outcome = "failed: \(storage.name) cannot be packed from here"
        }
        let stamp = started.formatted(.iso8601)
        status.withLock { s in
            s.running = false
            s.progress = nil
            s.last = "\(stamp) pack to \(stop) \(outcome)"
        }
    }

    /// One line about a finished pack, for the status and the CLI.
    public static func describe(_ result: PackResult) -> String {
        let seconds = String(format: "%.2f", result.seconds)
        guard result.swapped else { return "ok: nothing done: \(result.note ?? "nothing to free") (\(seconds) s)" }
        return "ok: \(result.sizeBefore) -> \(result.sizeAfter) bytes, "
            + "\(result.objectsBefore) -> \(result.objectsAfter) objects (\(result.objectsRemoved) removed), "
            + (result.recordsBefore.map { "\($0) -> \(result.recordsAfter) records, " } ?? "\(result.recordsAfter) records kept, ")
            + "\(result.transactionsDuringPack) transactions committed during the pack (\(seconds) s: "
            + result.phaseSeconds.map { "\($0.phase.rawValue) \(String(format: "%.2f", $0.seconds))" }.joined(separator: ", ")
            + "); the original is Data.fs.old"
    }

    public func statusText() -> String {
        let s = status.withLock { $0 }
        var text = "state: \(s.running ? "running" : "idle")\n"
        if s.running {
            if let stop = s.stop { text += "pack_time: \(stop)\n" }
            text += storage is FileStorage ? Self.progressLines(s.progress) : "phase: packing on the server\n"
        }
        if let last = s.last { text += "last: \(last)\n" }
        if let refused = s.refused { text += "refused: \(refused)\n" }
        return text
    }

    /// `phase`, `done_bytes`, `total_bytes`, `percent`, `objects`, `rate_mb_s`, `eta_s`.
    static func progressLines(_ progress: PackProgress?) -> String {
        guard let p = progress else { return "phase: starting\n" }
        var text = "phase: \(p.phase.rawValue)\ndone_bytes: \(p.bytesDone)\ntotal_bytes: \(p.bytesTotal)\n"
        if p.bytesTotal > 0 { text += "percent: \(Int(Double(p.bytesDone) * 100 / Double(p.bytesTotal)))\n" }
        text += "objects: \(p.objects)\n"
        if p.objectsTotal > 0 {
            text += "objects_total: \(p.objectsTotal)\n"
            if p.bytesTotal == 0 || p.bytesDone == 0 { text += "percent: \(p.objects * 100 / p.objectsTotal)\n" }
        }
        text += String(format: "elapsed_s: %.1f\n", p.elapsed)
        // Rate and ETA of the phase: the phases read at different speeds.
        if p.bytesDone > 0, p.phaseElapsed > 0 {
            let rate = Double(p.bytesDone) / p.phaseElapsed
            text += String(format: "rate_mb_s: %.1f\n", rate / 1e6)
            if p.bytesTotal >= p.bytesDone { text += String(format: "eta_s: %.0f\n", Double(p.bytesTotal - p.bytesDone) / rate) }
        }
        return text
    }
}
