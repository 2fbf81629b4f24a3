import Foundation
import TestSupport
import Testing

/// The fsx-style exerciser (`Scripts/peers/fsx.py`) on a writable mount:
/// random writes, truncations, appends and reads crossing the 64 KiB chunk
/// boundaries, on files kept open across commits, every read checked
/// against a shadow copy on the local disk — then a remount, a pack through
/// `.zodbfs/pack`, another run, and Zope reading the files.
@Suite(.serialized, .enabled(if: MountedStore.available)) struct IntegrityExerciserTests {
    struct Summary: Decodable {
        var ops: Int
        var reads: Int
        var bytes_checked: Int
        var closes: Int
        var mismatches: [[String: Int]]?
    }

    static func exercise(_ mount: MountedStore, shadow: String, seed: Int, ops: Int, verifyOnly: Bool = false) throws -> Summary {
        var arguments = [TestEnvironment.script("peers/fsx.py"), mount.path("fsx"), shadow, "--seed", "\(seed)", "--ops", "\(ops)"]
        if verifyOnly { arguments.append("--verify-only") }
        let result = try runCommand(try TestEnvironment.python(), arguments, timeout: 600)
        #expect(result.status == 0, "fsx seed \(seed): \(result.stdout) \(result.stderr)")
        return try JSONDecoder().decode(Summary.self, from: result.stdoutData)
    }

    @Test func randomWritesTruncatesAndReadsMatchAShadowAcrossRemountsAndAPack() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try WriteMountTests.copyOfFixture(in: scratch)
        let shadow = scratch.path("shadow")

        var mount = try MountedStore(store: store, in: scratch)
        let first = try Self.exercise(mount, shadow: shadow, seed: 1, ops: 1500)
        #expect(first.ops == 1500 && first.reads > 300 && first.closes > 100)
        try mount.unmount()

        mount = try MountedStore(store: store, in: scratch)
        #expect(try Self.exercise(mount, shadow: shadow, seed: 0, ops: 0, verifyOnly: true).mismatches?.isEmpty == true)
        try shell("echo now > \(quoted(mount.path(".zodbfs/pack")))")
        let deadline = Date().addingTimeInterval(120)
        while try mount.controlStatus("pack")["state"] == "running" && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(try mount.controlStatus("pack")["last"]?.contains(" ok: ") == true)
        let second = try Self.exercise(mount, shadow: shadow, seed: 2, ops: 1500)
        #expect(second.mismatches?.isEmpty == true)
        try mount.unmount()

        let report = try StoreVerification(dataFS: store)
        #expect(report.problems == [])
        for name in try FileManager.default.contentsOfDirectory(atPath: shadow) {
            let expected = sha256Hex(Array(try Data(contentsOf: URL(fileURLWithPath: shadow + "/" + name))))
            #expect(report["fsx/\(name)"]?.sha256 == expected, "fsx/\(name)")
        }
    }
}
