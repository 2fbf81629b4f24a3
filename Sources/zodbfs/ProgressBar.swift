#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Progress of a long command on stderr: a bar redrawn in place on a
/// terminal, a plain line every few seconds otherwise (logs, CI).
///
/// `@unchecked Sendable`: work that reports progress through a `@Sendable`
/// callback (pack) calls it synchronously on the command's own thread, so
/// the bar is only ever drawn from one thread.
final class ProgressBar: @unchecked Sendable {
    private let isTerminal = isatty(STDERR_FILENO) != 0
    /// When the current phase began: rate and ETA are per phase, since
    /// phases move at different speeds.
    private var phaseStarted = Date()
    private var lastDrawn = Date.distantPast
    private var lastPhase = ""

    enum Unit { case bytes, objects }

    func update(phase: String, done: UInt64, total: UInt64, unit: Unit = .bytes) {
        let now = Date()
        let interval: TimeInterval = isTerminal ? 0.1 : 5
        // The first phase started with the bar; later ones when they show up.
        if phase != lastPhase && !lastPhase.isEmpty { phaseStarted = now }
        guard now.timeIntervalSince(lastDrawn) >= interval || phase != lastPhase else { return }
        lastDrawn = now
        lastPhase = phase
        let elapsed = max(now.timeIntervalSince(phaseStarted), 0.001)
        let amount = { (n: UInt64) in unit == .bytes ? Self.megabytes(n) : "\(n) objects" }
        let rate = unit == .bytes
            ? String(format: "%.0f MB/s", Double(done) / elapsed / 1e6) : String(format: "%.0f objects/s", Double(done) / elapsed)
        var text = "\(phase): \(amount(done))"
        if total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let eta = fraction > 0 ? elapsed / fraction - elapsed : 0
            text += " of \(amount(total)) (\(Int(fraction * 100))%), \(rate), ETA \(Int(eta)) s"
            if isTerminal {
                let width = 30
                let filled = Int(fraction * Double(width))
                text = "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] " + text
            }
        }
        FileHandle.standardError.write(Data(((isTerminal ? "\r\u{1B}[K" : "") + text + (isTerminal ? "" : "\n")).utf8))
    }

    func finish() {
        if isTerminal && lastDrawn != .distantPast { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func megabytes(_ bytes: UInt64) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }
}
