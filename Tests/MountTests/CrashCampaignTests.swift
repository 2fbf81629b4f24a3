import Foundation
import TestSupport
import Testing

/// A small crash campaign (`Scripts/peers/crash_campaign.py`; the full one is
/// `Scripts/crash_campaign`): workers create, overwrite, append, truncate,
/// rename, unlink, mkdir and rmdir in a Folder and two BTreeFolder2s while
/// readers list and read them; the mount is killed with SIGKILL at random
/// moments and remounted, and each time the store must hold exactly what
/// the acknowledged operations left, the operations in flight all or
/// nothing, and pass fstest; at the end ZODB and Zope read it clean.
@Suite(.serialized, .enabled(if: MountedStore.available)) struct CrashCampaignTests {
    struct Summary: Decodable {
        struct Failure: Decodable, CustomStringConvertible {
            var kind: String
            var run: Int?
            var path: String?
            var detail: String?
            var description: String { "run \(run ?? -1): \(kind) \(path ?? "") \(detail ?? "")" }
        }
        var seed: Int
        var runs: Int
        var kills: Int
        var ops_acknowledged: Int
        var in_flight_at_kill: Int
        var paths_checked: Int
        var fstest_runs: Int
        var zope_checked_files: Int
        var acknowledged_by_kind: [String: Int]
        var failures: [Failure]
    }

    @Test func killNineAtRandomMomentsOfAMixedWorkloadKeepsEveryAcknowledgedOperation() throws {
        let scratch = try ScratchDirectory()
        defer {
            _ = try? shell("umount -l \(quoted(scratch.path("campaign/mnt")))", allowFailure: true)
            scratch.cleanUp()
        }
        let fixture = try TestEnvironment.zopeFixture()
        let python = try TestEnvironment.python()
        // A new seed each time, named in every failure (the kill moments
        // are timing, so a seed replays the workload, not the crash).
        let seed = Int.random(in: 1...1_000_000)
        let result = try runCommand(python, [
            TestEnvironment.script("peers/crash_campaign.py"),
            "--binary", try TestEnvironment.binary(), "--python", python,
            "--store", fixture.dataFS, "--scratch", scratch.path("campaign"),
            "--runs", "8", "--seed", "\(seed)", "--ops", "60", "--workers", "3", "--readers", "2",
            "--max-delay", "1.2",
        ], timeout: 300)
        let summary = try JSONDecoder().decode(Summary.self, from: result.stdoutData)
        #expect(result.status == 0, "seed \(seed): \(result.stdout.suffix(4000)) \(result.stderr.suffix(2000))")
        #expect(summary.failures.isEmpty, "seed \(seed): \(summary.failures)")
        #expect(summary.runs == 8 && summary.kills == 8)
        #expect(summary.fstest_runs == 8)
        #expect(summary.ops_acknowledged > 50, "\(summary)")
        #expect(summary.paths_checked > 50)
        #expect(summary.zope_checked_files > 0)
        for kind in ["create", "overwrite", "rename", "unlink", "mkdir"] {
            #expect((summary.acknowledged_by_kind[kind] ?? 0) > 0, "\(kind): \(summary.acknowledged_by_kind)")
        }
    }
}
