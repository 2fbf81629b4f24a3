import Foundation
import TestSupport
import Testing

/// A mount through a real `runzeo`, beside Zope clients of the same server
/// (`Scripts/peers/zeo_client.py`): changes travel both ways, concurrent
/// edits of one folder both survive, the mount rides out a server restart,
/// and `.zodbfs/pack` packs the server's file.
@Suite(.serialized, .enabled(if: MountedStore.available)) struct ZEOMountTests {
    struct Site {
        let scratch: ScratchDirectory
        let server: ZEOServer
        var mount: MountedStore

        init(arguments: [String] = [], msgpack: Bool = false) throws {
            scratch = try ScratchDirectory()
            let store = try WriteMountTests.copyOfFixture(in: scratch)
            server = try ZEOServer(dataFS: store, in: scratch.url.path, msgpack: msgpack)
            mount = try MountedStore(zeo: server.address, in: scratch, arguments: arguments)
        }

        /// Runs the Zope client; returns its stdout.
        @discardableResult
        func zope(_ arguments: String...) throws -> String {
            try Self.zope(server.address, arguments)
        }

        @discardableResult
        static func zope(_ address: String, _ arguments: [String]) throws -> String {
            let result = try runCommand(try TestEnvironment.python(),
                                        [TestEnvironment.script("peers/zeo_client.py"), address] + arguments, timeout: 120)
            guard result.status == 0 else {
                throw TestEnvironment.Missing(description: "zeo_client \(arguments): \(result.stderr)")
            }
            return result.stdout
        }

        func file(_ name: String, _ bytes: [UInt8]) throws -> String {
            let path = scratch.path(name)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return path
        }

        /// Unmounts, stops the server, and checks its Data.fs with ZODB's own tools.
        func finish() throws -> StoreVerification {
            try mount.unmount()
            server.stop()
            return try StoreVerification(dataFS: server.dataFS)
        }
    }

    /// Polls `condition` every 10 ms for up to `seconds`; returns the time it took, nil if it never held.
    static func within(_ seconds: Double, _ condition: () -> Bool) -> Double? {
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            if condition() { return Date().timeIntervalSince(start) }
            usleep(10_000)
        }
        return nil
    }

    @Test(arguments: [false, true]) func changesTravelBothWaysAndShowWithinASecond(msgpack: Bool) throws {
        let site = try Site(msgpack: msgpack)
        defer { site.scratch.cleanUp() }
        let mount = site.mount
        // Zope adds a file: it appears in the mount within 1 s.
        let added = pseudoRandomBytes(200_000, seed: 7)
        _ = try mount.controlStatus("info")
        try site.zope("add", "docs/from-zope.bin", try site.file("added", added))
        let appeared = Self.within(1) { FileManager.default.fileExists(atPath: mount.path("docs/from-zope.bin")) }
        #expect(appeared != nil, "a file Zope added did not appear within 1 s")
        #expect(sha256Hex(Array(try Data(contentsOf: URL(fileURLWithPath: mount.path("docs/from-zope.bin"))))) == sha256Hex(added))

        // Zope replaces a file's body the mount has read (and the kernel cached).
        _ = try Data(contentsOf: URL(fileURLWithPath: mount.path("docs/from-zope.bin")))
        let replaced = pseudoRandomBytes(150_000, seed: 8)
        try site.zope("update", "docs/from-zope.bin", try site.file("replaced", replaced))
        let refreshed = Self.within(1) {
            (try? Data(contentsOf: URL(fileURLWithPath: mount.path("docs/from-zope.bin")))).map { sha256Hex(Array($0)) } == sha256Hex(replaced)
        }
        #expect(refreshed != nil, "a body Zope replaced did not show within 1 s")

        // The mount writes: Zope reads the same bytes after its next transaction boundary.
        let written = pseudoRandomBytes(3_000_000, seed: 9)
        try Data(written).write(to: URL(fileURLWithPath: mount.path("docs/from-mount.bin")))
        let seen = try site.zope("sha256", "docs/from-mount.bin")
        #expect(seen.hasPrefix(sha256Hex(written) + " 3000000"), "\(seen)")

        let info = try mount.controlStatus("info")
        #expect(info["storage"]?.contains("ZEO server \(site.server.address)") == true, "\(info)")
        #expect(info["connection"]?.hasPrefix("connected since") == true, "\(info)")
        let report = try site.finish()
        #expect(report.problems == [])
        #expect(report["docs/from-mount.bin"]?.sha256 == sha256Hex(written))
    }

    @Test func concurrentEditsOfOneFolderFromBothSidesSurvive() throws {
        let site = try Site()
        defer { site.scratch.cleanUp() }
        let mount = site.mount
        // A Folder (`_objects`, no conflict resolution: the loser builds its
        // change again) and a BTreeFolder2 (buckets the server may merge).
        let address = site.server.address
        for folder in ["docs", "many"] {
            let zope = Thread { _ = try? Site.zope(address, ["add-many", folder, "zope-", "15"]) }
            zope.start()
            for i in 0..<15 {
                try Data("mount-\(i)\n".utf8).write(to: URL(fileURLWithPath: mount.path("\(folder)/mount-\(i)")))
            }
            #expect(Self.within(120) {
                (0..<15).allSatisfy { FileManager.default.fileExists(atPath: mount.path("\(folder)/zope-\($0)")) }
            } != nil)
            let names = Set(try FileManager.default.contentsOfDirectory(atPath: mount.path(folder)))
            for i in 0..<15 {
                #expect(names.contains("mount-\(i)") && names.contains("zope-\(i)"), "\(folder) \(i)")
            }
        }

        // One file written on both sides: the last close wins.
        // (a) The handle still has uncommitted bytes when Zope replaces the
        // body: its close finds the File changed, builds its change again on
        // Zope's revision and commits it.
        let path = mount.path("docs/both.bin")
        try Data(pseudoRandomBytes(300_000, seed: 40)).write(to: URL(fileURLWithPath: path))
        let mine = pseudoRandomBytes(200_000, seed: 41)
        var handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(mine[..<100_000]))
        try site.zope("update", "docs/both.bin", try site.file("theirs", pseudoRandomBytes(100_000, seed: 42)))
        try handle.write(contentsOf: Data(mine[100_000...]))
        try handle.close()
        #expect(try site.zope("sha256", "docs/both.bin").hasPrefix(sha256Hex(mine)))
        // (b) Every close of a descriptor commits, also a child's close of
        // one it inherited (here: of a dup). The body is in the store before
        // Zope replaces it, and the owner's close, with nothing new to
        // commit, puts it back.
        let again = pseudoRandomBytes(150_000, seed: 43)
        handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(again))
        close(dup(handle.fileDescriptor))
        #expect(try site.zope("sha256", "docs/both.bin").hasPrefix(sha256Hex(again)))
        try site.zope("update", "docs/both.bin", try site.file("theirs", pseudoRandomBytes(100_000, seed: 44)))
        try handle.close()
        #expect(try site.zope("sha256", "docs/both.bin").hasPrefix(sha256Hex(again)))
        let report = try site.finish()
        #expect(report.problems == [])
        for folder in ["docs", "many"] {
            for i in 0..<15 {
                #expect(report["\(folder)/mount-\(i)"]?.size == "mount-\(i)\n".utf8.count)
                #expect(report["\(folder)/zope-\(i)"] != nil)
            }
        }
        #expect(report["docs/both.bin"]?.size == 150_000)
    }

    @Test func ridesOutAServerRestartAndFailsCleanlyWhenItStaysAway() throws {
        // A cache smaller than the file, so reading it needs the server.
        let site = try Site(arguments: ["--zeo-wait", "3", "--zeo-cache", "1"])
        defer { site.scratch.cleanUp() }
        let mount = site.mount
        let body = pseudoRandomBytes(8_000_000, seed: 11)
        try Data(body).write(to: URL(fileURLWithPath: mount.path("docs/before-restart.bin")))

        // Restarted mid-read: the read pauses and goes on with the right bytes.
        try shell("echo 3 > /proc/sys/vm/drop_caches")
        let reader = try #require(FileHandle(forReadingAtPath: mount.path("docs/before-restart.bin")))
        var read = try reader.read(upToCount: 1 << 20) ?? Data()
        site.server.stop()
        let bringBack = Thread { [server = site.server] in
            usleep(1_000_000)
            try? server.start()
        }
        bringBack.start()
        while let more = try reader.read(upToCount: 1 << 20), !more.isEmpty { read += more }
        try reader.close()
        #expect(sha256Hex(Array(read)) == sha256Hex(body))
        #expect(Self.within(10) { site.server.pid > 0 } != nil)

        // Restarted within the wait: operations pause, then go on.
        let server = site.server
        server.stop()
        let restart = Thread {
            usleep(1_000_000)
            try? server.start()
        }
        restart.start()
        let during = pseudoRandomBytes(500_000, seed: 12)
        try Data(during).write(to: URL(fileURLWithPath: mount.path("docs/during-restart.bin")))
        #expect(Self.within(10) { site.server.pid > 0 } != nil)
        try shell("sync")
        #expect(sha256Hex(Array(try Data(contentsOf: URL(fileURLWithPath: mount.path("docs/during-restart.bin"))))) == sha256Hex(during))

        // Away for good: an operation that needs the server fails with EIO
        // after the wait, it does not hang.
        site.server.stop()
        let started = Date()
        // (Python, not the shell: bash ignores what close returns.)
        let failed = try runCommand(try TestEnvironment.python(), ["-c", """
            import errno, sys
            try:
                with open(sys.argv[1], 'w') as f: f.write('x\\n')
            except OSError as e:
                print(errno.errorcode[e.errno])
            """, mount.path("docs/while-away.txt")])
        #expect(failed.stdout.contains("EIO"), "\(failed.stdout) \(failed.stderr)")
        #expect(Date().timeIntervalSince(started) < 20)

        try site.server.start()
        #expect(Self.within(10) { (try? mount.controlStatus("info")["connection"]?.hasPrefix("connected")) == true } != nil)
        try Data("back\n".utf8).write(to: URL(fileURLWithPath: mount.path("docs/after-restart.txt")))
        let report = try site.finish()
        #expect(report.problems == [])
        #expect(report["docs/before-restart.bin"]?.sha256 == sha256Hex(body))
        #expect(report["docs/during-restart.bin"]?.sha256 == sha256Hex(during))
        #expect(report["docs/after-restart.txt"]?.size == 5)
        #expect(report["docs/while-away.txt"] == nil)
    }

    @Test func packControlFilePacksTheServersFile() throws {
        let site = try Site()
        defer { site.scratch.cleanUp() }
        let mount = site.mount
        // History to free: a file written three times.
        for round in 0..<3 {
            try Data(pseudoRandomBytes(300_000, seed: UInt64(20 + round))).write(to: URL(fileURLWithPath: mount.path("docs/rewritten.bin")))
        }
        let before = try FileManager.default.attributesOfItem(atPath: site.server.dataFS)[.size] as! Int
        try shell("echo now > \(quoted(mount.path(".zodbfs/pack")))")
        #expect(Self.within(60) { (try? mount.controlStatus("pack")["state"]) == "idle" } != nil)
        let status = try mount.controlStatus("pack")
        #expect(status["last"]?.contains("ok: packed by the server") == true, "\(status)")
        let after = try FileManager.default.attributesOfItem(atPath: site.server.dataFS)[.size] as! Int
        #expect(after < before)
        #expect(FileManager.default.fileExists(atPath: site.server.dataFS + ".old"))
        // Still serving, and writable, after the server's pack.
        let final = pseudoRandomBytes(100_000, seed: 30)
        try Data(final).write(to: URL(fileURLWithPath: mount.path("docs/after-pack.bin")))
        let report = try site.finish()
        #expect(report.problems == [])
        #expect(report["docs/after-pack.bin"]?.sha256 == sha256Hex(final))
    }
}
