import ArgumentParser
import Foundation

/// `zodbfs stats MOUNTPOINT`: a one-screen summary of `.zodbfs/stats`,
/// redrawn every second with rates since the last screen (`--once` prints
/// one and exits, for scripts).
struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a mount's counters, live.")

    @Argument(help: "A zodbfs mount point.") var mountpoint: String
    @Flag(name: .long, help: "Print one summary and exit.") var once = false
    @Option(name: .long, help: "Seconds between screens.") var interval: Double = 1

    func run() throws {
        guard let control = ControlFile(mountpoint: mountpoint, name: "stats") else {
            throw CommandFailure("\(mountpoint): not a zodbfs mount (no .zodbfs/stats)")
        }
        var previous: [String: Double]?
        var previousTime = Date()
        while true {
            let now = Date()
            let values = try Self.metrics(control)
            let seconds = max(now.timeIntervalSince(previousTime), 0.001)
            let screen = Self.render(values, previous: previous, seconds: seconds)
            FileHandle.standardOutput.write(Data((once ? screen : "\u{1B}[H\u{1B}[2J" + screen).utf8))
            if once { return }
            previous = values
            previousTime = now
            Thread.sleep(forTimeInterval: interval)
        }
    }

    /// `name value` lines of the Prometheus text (comments skipped).
    static func metrics(_ control: ControlFile) throws -> [String: Double] {
        guard let handle = FileHandle(forReadingAtPath: control.path) else { throw CommandFailure("\(control.path): cannot open") }
        defer { try? handle.close() }
        let text = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = Double(parts[1]) { values[String(parts[0])] = value }
        }
        return values
    }

    static func render(_ v: [String: Double], previous: [String: Double]?, seconds: Double) -> String {
        func value(_ name: String) -> Double { v["zodbfs_" + name] ?? 0 }
        func rate(_ name: String) -> String {
            guard let previous else { return "" }
            let delta = value(name) - (previous["zodbfs_" + name] ?? 0)
            return String(format: "  %10.1f/s", delta / seconds)
        }
        func row(_ label: String, _ name: String) -> String {
            label.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "%14.0f", value(name)) + rate(name) + "\n"
        }
        let commits = value("commit_seconds_count")
        let average = commits > 0 ? value("commit_seconds_sum") / commits * 1000 : 0
        var text = "zodbfs stats\n"
        text += row("lookups", "lookups_total") + row("getattr", "getattr_total") + row("readdir", "readdir_total")
        text += row("opens", "open_total") + row("reads", "read_total") + row("bytes read", "read_bytes_total")
        text += row("writes", "write_total") + row("bytes written", "write_bytes_total")
        text += row("commits", "commits_total") + row("bytes committed", "commit_bytes_total")
        text += row("cache hits", "node_cache_hits_total") + row("cache misses", "node_cache_misses_total")
        text += row("errors", "errors_total")
        text += "open handles".padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "%14.0f\n", value("open_handles"))
        text += "commit latency (mean)".padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "%11.2f ms\n", average)
        return text
    }
}
