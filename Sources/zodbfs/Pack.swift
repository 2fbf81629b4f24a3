import ArgumentParser
import FS
import Foundation
import Storage
import ZODB

/// `zodbfs pack STORE|MOUNTPOINT [--days N | --before TIME] [--progress]
/// [--pack-rate MB/s]`: ZODB's `pack` of a Data.fs no process holds, or of a
/// mounted one through its `.zodbfs/pack` (the mount keeps serving).
struct Pack: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pack a Data.fs: drop revisions older than the pack time and unreachable objects.")

    @Argument(help: "The Data.fs to pack (no other process may hold it), or a zodbfs mount point.") var store: String
    @Option(name: .long, help: "Keep this many days of history (default 0: pack to now).") var days: Double?
    @Option(name: .long, help: "Pack to this time: ISO-8601 (2026-12-01T00:00:00Z; UTC without a zone) or seconds since the epoch.") var before: String?
    @Flag(name: .long, help: "Draw a progress bar.") var progress = false
    @Option(name: .long, help: "Read and write at most this many MB/s (a Data.fs only; a mount uses its own setting).") var packRate: Double?
    @Flag(name: .long, help: "Keep every current revision; skip the reachability walk (ZODB's pack-gc false).") var noGc = false

    func validate() throws {
        if days != nil && before != nil { throw ValidationError("--days and --before exclude each other") }
        if let days, !(days >= 0) { throw ValidationError("--days must be 0 or more") }
        if let packRate, !(packRate > 0) { throw ValidationError("--pack-rate must be above 0 (MB/s)") }
    }

    /// The pack time as a date, and as the control file takes it — nil for
    /// seconds since the epoch, which a mount is given as an ISO-8601 time:
    /// made only then, because Foundation's ISO-8601 styles look up the
    /// system's time zone through ICU when first made, which read 15 MB of
    /// ICU's data into a cold `zodbfs pack`.
    private func packTime(now: Date) throws -> (date: Date, command: String?) {
        if let before {
            if let seconds = Double(before) {
                let date = Date(timeIntervalSince1970: seconds)
                guard date <= now.addingTimeInterval(1) else { throw ValidationError("--before \(before) is in the future") }
                return (date, nil)
            }
            switch PackJob.packTime(before, now: now) {
            case .success(let date): return (date, before)
            case .failure(let error): throw ValidationError("--before: \(error)")
            }
        }
        let days = days ?? 0
        return (now.addingTimeInterval(-days * 86400), days == 0 ? "now" : "\(days)")
    }

    func run() throws {
        let (date, command) = try packTime(now: Date())
        if let control = ControlFile(mountpoint: store, name: "pack") {
            if noGc || packRate != nil { throw ValidationError("--no-gc and --pack-rate are for a Data.fs; a mount packs as it was mounted") }
            try packThroughMount(
                control, command: command ?? date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
            return
        }
        let storage = try StoreAccess.open(store, readOnly: false)
        defer { storage.close() }
        let bar = progress ? ProgressBar() : nil
        var options = PackOptions(garbageCollect: !noGc, bytesPerSecond: packRate.map { $0 * 1e6 })
        if let bar {
            options.progress = { p in
                // The marking walk counts objects, the other phases bytes.
                if p.phase == .marking && p.bytesDone == 0 {
                    bar.update(phase: "marking", done: UInt64(p.objects), total: UInt64(p.objectsTotal), unit: .objects)
                } else {
                    bar.update(phase: p.phase.rawValue, done: p.bytesDone, total: p.bytesTotal)
                }
            }
        }
        let result: PackResult
        do {
            // Nothing else uses the storage: the pack may let go of its index.
            result = try storage.packAndClose(before: TID(timeIntervalSince1970: date.timeIntervalSince1970), options: options)
        } catch {
            bar?.finish()
            throw CommandFailure("\(error)")
        }
        bar?.finish()
        print("\(store): pack to \(TID(timeIntervalSince1970: date.timeIntervalSince1970).isoString) \(PackJob.describe(result))")
    }

    /// The mount packs; the status is polled until it is done.
    private func packThroughMount(_ control: ControlFile, command: String) throws {
        let before = try control.status()
        if before["state"] == "unavailable" { throw CommandFailure("\(control.path): \(before["reason"] ?? "pack is not available")") }
        try control.send(command)
        let bar = progress ? ProgressBar() : nil
        defer { bar?.finish() }
        while true {
            let status = try control.status()
            if status["state"] != "running" {
                bar?.finish()
                let last = status["last"] ?? "no result"
                guard !last.contains(" failed: ") else { throw CommandFailure(last) }
                print(last)
                return
            }
            if let objects = UInt64(status["objects"] ?? ""), let total = UInt64(status["objects_total"] ?? ""),
               status["done_bytes"] == "0" {
                bar?.update(phase: "marking", done: objects, total: total, unit: .objects)
            } else {
                bar?.update(phase: status["phase"] ?? "running", done: UInt64(status["done_bytes"] ?? "") ?? 0,
                            total: UInt64(status["total_bytes"] ?? "") ?? 0)
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }
}

