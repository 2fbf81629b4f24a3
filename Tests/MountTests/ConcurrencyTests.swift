import Foundation
import TestSupport
import Testing

/// Sixteen processes creating, rewriting, appending to, renaming, reading
/// back and removing files in one shared folder of a writable mount, and
/// reading stored files, for a bounded time (`Scripts/peers/concurrency.py`):
/// no deadlock, no wrong byte, the daemon's memory stable; then Zope reads
/// what each process left.
@Suite(.serialized, .enabled(if: MountedStore.available)) struct ConcurrencyTests {
    struct Summary: Decodable {
        var ops: Int
        var counts: [String: Int]
        var errors: [String]
        var mismatches: [[String: String]]?
        var hung_workers: [Int]
        var finished_workers: Int
        var files: [String: String]
        var daemon_pid: Int?
        var rss_kib: [Int]
    }

    @Test func sixteenProcessesReadAndWriteAtOnce() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try WriteMountTests.copyOfFixture(in: scratch)
        let fixture = try TestEnvironment.zopeFixture()
        let checks = fixture.files.filter { ($0.size ?? 0) > 100_000 && ($0.size ?? 0) < 3_000_000 }.prefix(4)
        let mount = try MountedStore(store: store, in: scratch)
        let seconds = TestEnvironment.isCI ? 20 : 60
        var arguments = [TestEnvironment.script("peers/concurrency.py"), mount.mountpoint, "docs/concurrency",
                         "--processes", "16", "--seconds", "\(seconds)"]
        for file in checks { arguments += ["--check", "\(file.path)=\(file.sha256 ?? "")"] }
        let result = try runCommand(try TestEnvironment.python(), arguments, timeout: Double(seconds) + 300)
        let summary = try JSONDecoder().decode(Summary.self, from: result.stdoutData)
        print("concurrency: 16 processes, \(seconds) s, \(summary.ops) ops \(summary.counts.sorted { $0.key < $1.key }), "
              + "\(summary.errors.count) errors, RSS \(summary.rss_kib.min() ?? 0)–\(summary.rss_kib.max() ?? 0) KiB")
        #expect(result.status == 0, "\(result.stdout.prefix(2000)) \(result.stderr.suffix(2000))")
        #expect(summary.finished_workers == 16 && summary.hung_workers.isEmpty)
        #expect(summary.errors.isEmpty, "\(summary.errors.prefix(5))")
        #expect(summary.mismatches?.isEmpty ?? true)
        #expect(summary.ops > 16 * 20, "\(summary.counts)")
        #expect((summary.counts["read_stored"] ?? 0) > 0 && (summary.counts["rename"] ?? 0) > 0)
        // Stable memory: the second half of the run grows by less than 64 MiB
        // over the first half's peak.
        #expect(summary.daemon_pid != nil && summary.rss_kib.count > 4)
        let half = summary.rss_kib.count / 2
        if half > 0 {
            let early = summary.rss_kib[..<half].max() ?? 0
            let late = summary.rss_kib[half...].max() ?? 0
            #expect(late < early + 64 * 1024, "RSS \(early) KiB → \(late) KiB")
        }
        try mount.unmount()

        let report = try StoreVerification(dataFS: store)
        #expect(report.problems == [])
        for (name, digest) in summary.files {
            #expect(report["docs/concurrency/\(name)"]?.sha256 == digest, "\(name)")
        }
        let left = report.entries.filter { $0.path.hasPrefix("docs/concurrency/") && $0.kind == "file" }
        #expect(left.count == summary.files.count)
    }
}
