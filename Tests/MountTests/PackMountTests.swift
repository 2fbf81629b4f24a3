import Foundation
import TestSupport
import Testing

/// Pack through a live mount: `.zodbfs/pack` and `zodbfs pack MOUNTPOINT`,
/// with files being written all the while, and `kill -9` at every moment of
/// a pack. Afterwards the real ZODB and Zope (`verify_store.py`: fstest,
/// fsrefs, the index, every object) must find the store clean and complete.
@Suite(.serialized, .enabled(if: MountedStore.available)) struct PackMountTests {
    static func status(_ mount: MountedStore) throws -> [String: String] {
        try mount.controlStatus("pack")
    }

    static func waitForPack(_ mount: MountedStore, timeout: Double = 300) throws -> [String: String] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let status = try status(mount)
            if status["state"] != "running" { return status }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw TestEnvironment.Missing(description: "the pack did not finish in \(timeout) s")
    }

    /// A loop of `cp`s into the mount runs before, during and after a
    /// (rate-limited) pack; every file it copied is in the packed store.
    @Test func copiesDuringAPackAreAllKept() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try WriteMountTests.copyOfFixture(in: scratch)
        let source = scratch.path("source.bin")
        try shell("head -c 300000 /dev/urandom > \(quoted(source))")
        let digest = try shell("sha256sum \(quoted(source)) | cut -c1-64").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let mount = try MountedStore(store: store, in: scratch, arguments: ["-o", "pack_rate=30"])
        let stop = scratch.path("stop"), log = scratch.path("copied.log")
        try shell("mkdir \(quoted(mount.path("loop")))")
        try shell("""
            (i=0; while [ ! -e \(quoted(stop)) ]; do i=$((i+1)); \
              cp \(quoted(source)) \(quoted(mount.path("loop")))/f-$i.bin && echo f-$i.bin >> \(quoted(log)); \
              cp \(quoted(source)) \(quoted(mount.path("loop")))/same.bin; sleep 0.02; done) > /dev/null 2>&1 &
            """)
        Thread.sleep(forTimeInterval: 0.3)
        let before = try Self.status(mount)
        #expect(before["state"] == "idle")
        try shell("echo now > \(quoted(mount.path(".zodbfs/pack")))")
        #expect(try Self.status(mount)["state"] == "running")
        let running = try Self.status(mount)
        #expect(running["phase"] != nil && running["total_bytes"] != nil, "\(running)")
        let finished = try Self.waitForPack(mount)
        Thread.sleep(forTimeInterval: 0.3)
        try shell("touch \(quoted(stop)); sleep 0.5")
        let last = finished["last"] ?? ""
        #expect(last.contains(" ok: "), "\(finished)")
        let during = last.components(separatedBy: ", ").first { $0.contains("transactions committed during the pack") }
            .flatMap { Int($0.split(separator: " ").first ?? "") }
        #expect((during ?? 0) > 0, "the copies were meant to commit while the pack ran: \(last)")
        try mount.unmount()

        #expect(FileManager.default.fileExists(atPath: store + ".old"))
        let copied = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
        #expect(copied.count > 5)
        let report = try StoreVerification(dataFS: store)
        #expect(report.problems == [])
        for name in copied { #expect(report["loop/\(name)"]?.sha256 == digest, "loop/\(name)") }
        #expect(report["loop/same.bin"]?.sha256 == digest)
    }

    /// `kill -9` of the mount at 20 moments spread over a pack (and files
    /// being written): every time, the store reopens, ZODB's checkers pass,
    /// and every file whose close had returned is there.
    @Test func killNineDuringAPackLosesNothing() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try WriteMountTests.copyOfFixture(in: scratch)
        var acknowledged: [String: String] = [:]
        var swaps = 0, interrupted = 0
        let rounds = 20
        for round in 0..<rounds {
            try? FileManager.default.removeItem(atPath: store + ".old")
            let mount = try MountedStore(store: store, in: scratch, arguments: ["-o", "pack_rate=40"])
            let pid = try WriteMountTests.servingPid(mount)
            #expect(pid > 0)
            let log = scratch.path("acks-\(round).log")
            // Spread the kills over the pack and past it: at this rate it
            // takes two to three seconds (debug build, writes going on).
            let delay = 0.05 + 5.0 * Double(round) / Double(rounds - 1)
            try shell("""
                \(acknowledgedWriter(into: mount.path("docs"), round: round, prefix: "p", log: log, pause: 0.005))
                sleep 0.05
                echo now > \(quoted(mount.path(".zodbfs/pack")))
                sleep \(String(format: "%.2f", delay))
                cat \(quoted(mount.path(".zodbfs/pack"))) > \(quoted(scratch.path("status-\(round).txt")))
                kill -9 \(pid)
                wait
                """, allowFailure: true)
            _ = try shell("umount -l \(quoted(mount.mountpoint))", allowFailure: true)
            if FileManager.default.fileExists(atPath: store + ".old") { swaps += 1 } else { interrupted += 1 }
            let acked = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            for name in acked.split(separator: "\n") {
                let i = name.split(separator: "-").last!.dropLast(4)
                acknowledged["docs/" + name] = sha256Hex(Array("round \(round) file \(i)\n".utf8))
            }
            // One outcome fstest reports that is not damage: a SIGKILL that
            // lands while a commit's pwrite copies its pages ends the write
            // short (the kernel checks for a fatal signal between pages), so
            // the file ends in part of a transaction nobody was told was
            // committed — as after Zope itself is killed inside tpc_vote.
            // fstest, which never repairs, calls that a truncation at the
            // torn transaction; the open cuts it off (ZODB's read_index does
            // the same), after which fstest must pass.
            let fstest = try runCommand(try TestEnvironment.python(), ["-m", "ZODB.scripts.fstest", store])
            // ("truncated at N" when the cut fell inside its header.)
            let tornTail = fstest.status != 0 && (fstest.stdout + fstest.stderr).contains(" truncated ")
            #expect(fstest.status == 0 || tornTail, "round \(round): fstest \(fstest.stdout) \(fstest.stderr)")
            let again = try MountedStore(store: store, in: scratch)
            for (path, digest) in acknowledged where path.hasPrefix("docs/p\(round)-") {
                let data = FileManager.default.contents(atPath: again.path(path)).map { sha256Hex(Array($0)) }
                #expect(data == digest, "round \(round): acknowledged \(path)")
            }
            try again.unmount()
            if tornTail {
                let repaired = try runCommand(try TestEnvironment.python(), ["-m", "ZODB.scripts.fstest", store])
                #expect(repaired.status == 0, "round \(round): fstest after the open \(repaired.stdout) \(repaired.stderr)")
            }
        }
        let statuses = (0..<rounds).map { (try? String(contentsOfFile: scratch.path("status-\($0).txt"), encoding: .utf8)) ?? "" }
        #expect(swaps > 0, "some kills were meant to come after the swap: \(statuses)")
        #expect(interrupted > 0, "some kills were meant to interrupt the pack")
        let report = try StoreVerification(dataFS: store)
        #expect(report.problems == [])
        for (path, digest) in acknowledged { #expect(report[path]?.sha256 == digest, "acknowledged \(path)") }
        #expect(acknowledged.count > 20)
    }

    /// The control file's errors, the CLI through a mount, and a read-only mount.
    @Test func controlFileCommandsAndErrors() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try WriteMountTests.copyOfFixture(in: scratch)
        let mount = try MountedStore(store: store, in: scratch)
        let pack = mount.path(".zodbfs/pack")
        let mode = try shell("stat -c %a \(quoted(pack))").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(mode == "600" || mode == "644", "writable by the mounting user only: \(mode)")
        for bad in ["bogus", "-3", "2999-01-01T00:00:00Z"] {
            let result = try shell("echo \(quoted(bad)) > \(quoted(pack))", allowFailure: true)
            #expect(result.status != 0)
            #expect(result.stderr.contains("Invalid argument"), "\(bad): \(result.stderr)")
            #expect(try Self.status(mount)["refused"]?.isEmpty == false)
        }
        let cli = try runCommand(try TestEnvironment.binary(), ["pack", mount.mountpoint, "--days", "0", "--progress"], timeout: 120)
        #expect(cli.status == 0, "\(cli.stderr)")
        #expect(cli.stdout.contains(" ok: "), "\(cli.stdout)")
        #expect(try Self.status(mount)["last"]?.contains(" ok: ") == true)
        try mount.unmount()
        let report = try StoreVerification(dataFS: store)
        #expect(report.problems == [])

        let readOnly = try MountedStore(store: store, in: scratch, arguments: ["--read-only"])
        let refused = try shell("echo now > \(quoted(readOnly.path(".zodbfs/pack")))", allowFailure: true)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("Read-only file system"), "\(refused.stderr)")
        try readOnly.unmount()
    }

    /// `zodbfs pack STORE` of an unmounted Data.fs, and its refusal of a
    /// store a mount holds.
    @Test func theCommandLinePacksAStoreNobodyHolds() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try WriteMountTests.copyOfFixture(in: scratch)
        let mount = try MountedStore(store: store, in: scratch)
        let held = try runCommand(try TestEnvironment.binary(), ["pack", store], timeout: 60)
        #expect(held.status != 0)
        #expect(held.stderr.contains("in use"), "\(held.stderr)")
        try mount.unmount()
        let packed = try runCommand(try TestEnvironment.binary(), ["pack", store, "--before", "2000-01-01T00:00:00Z"], timeout: 60)
        #expect(packed.status == 0, "\(packed.stderr)")
        #expect(packed.stdout.contains("nothing done"), "\(packed.stdout)")
        let now = try runCommand(try TestEnvironment.binary(), ["pack", store, "--days", "0"], timeout: 120)
        #expect(now.status == 0, "\(now.stderr)")
        #expect(now.stdout.contains(" ok: "), "\(now.stdout)")
        #expect(try StoreVerification(dataFS: store).problems == [])
    }
}
