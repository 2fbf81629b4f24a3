import Foundation
import TestSupport
import Testing

/// A mount whose Data.fs (and spool) live on a small tmpfs that fills up:
/// `cp` of a file bigger than the free space and namespace calls on a full
/// disk fail with ENOSPC — promptly, never a hang nor a success — the store
/// stays valid, and once space is back the next writes work and survive a
/// remount. (`WriteMountTests` has a file that fits the spool but not the
/// commit.)
@Suite(.serialized, .enabled(if: MountedStore.available)) struct FullDiskMountTests {
    /// A tmpfs of `megabytes` in `scratch` holding a copy of the fixture.
    static func smallDisk(_ scratch: ScratchDirectory, megabytes: Int) throws -> (disk: String, store: String) {
        let disk = scratch.path("small-fs")
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        try shell("mount -t tmpfs -o size=\(megabytes)m zodbfs-test \(quoted(disk))")
        let store = disk + "/Data.fs"
        try FileManager.default.copyItem(atPath: try TestEnvironment.zopeFixture().dataFS, toPath: store)
        return (disk, store)
    }

    static func fstest(_ store: String) throws -> CommandResult {
        try runCommand(try TestEnvironment.python(), ["-m", "ZODB.scripts.fstest", store], timeout: 120)
    }

    @Test func cpOfAFileBiggerThanTheFreeSpaceFailsWithENOSPCAndTheNextWriteWorks() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let (disk, store) = try Self.smallDisk(scratch, megabytes: 40)
        defer { _ = try? shell("umount -l \(quoted(disk))", allowFailure: true) }
        let source = scratch.path("big.bin")
        try shell("head -c \(64 << 20) /dev/urandom > \(quoted(source))")
        var mount = try MountedStore(store: store, in: scratch)
        defer { try? mount.unmount() }
        let sizeBefore = try FileManager.default.attributesOfItem(atPath: store)[.size] as? Int

        let copy = try runCommand("/bin/cp", [source, mount.path("docs/big.bin")], timeout: 120)
        #expect(copy.status != 0)
        #expect(copy.stderr.contains("No space left on device"), "\(copy.stderr)")
        #expect(try FileManager.default.attributesOfItem(atPath: store)[.size] as? Int == sizeBefore,
                "nothing of the failed file reached Data.fs")
        let check = try Self.fstest(store)
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")
        // The spool gave its space back when cp closed the file.
        for _ in 0..<200 where FileManager.default.fileExists(atPath: mount.path("docs/big.bin")) { usleep(10_000) }
        #expect(!FileManager.default.fileExists(atPath: mount.path("docs/big.bin")))
        try shell("printf 'after the full disk\\n' > \(quoted(mount.path("docs/after.txt")))")
        try shell("head -c 300000 \(quoted(source)) > \(quoted(mount.path("docs/after.bin")))")
        try mount.unmount()

        mount = try MountedStore(store: store, in: scratch)
        #expect(FileManager.default.contents(atPath: mount.path("docs/after.txt")) == Data("after the full disk\n".utf8))
        let expected = try shell("head -c 300000 \(quoted(source)) | sha256sum | cut -c1-64").stdout
        let served = try shell("sha256sum \(quoted(mount.path("docs/after.bin"))) | cut -c1-64").stdout
        #expect(served == expected)
        #expect(!FileManager.default.fileExists(atPath: mount.path("docs/big.bin")))
        try mount.unmount()
        let report = try StoreVerification(dataFS: store)
        #expect(report.problems == [])
        #expect(report["docs/big.bin"] == nil)
        #expect(report["docs/after.bin"]?.size == 300_000)
    }

    /// With the disk filled up by another file, mkdir, rename, unlink and
    /// small files fail with ENOSPC (or succeed while the last page of
    /// Data.fs still has room); an unmount then cannot save the index and
    /// still works; once the filler is gone the calls work again, and
    /// exactly what succeeded on the full disk is in the store.
    @Test func namespaceCallsOnAFullDiskFailWithENOSPCAndNeverHang() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let (disk, store) = try Self.smallDisk(scratch, megabytes: 24)
        defer { _ = try? shell("umount -l \(quoted(disk))", allowFailure: true) }
        var mount = try MountedStore(store: store, in: scratch)
        defer { try? mount.unmount() }
        try shell("mkdir \(quoted(mount.path("many/full")))")
        for i in 0..<10 { try shell("printf 'file \(i)\\n' > \(quoted(mount.path("docs/f\(i).txt")))") }
        // Fill every free block.
        _ = try shell("dd if=/dev/zero of=\(quoted(disk + "/filler")) bs=64k 2>/dev/null", allowFailure: true)

        let script = """
            import errno, json, os, sys
            root = sys.argv[1]
            results = []
            def attempt(name, path, call):
                try:
                    call()
                    results.append([name, 'ok', path])
                except OSError as e:
                    results.append([name, errno.errorcode.get(e.errno, str(e.errno)), path])
            def small(path):
                fd = os.open(os.path.join(root, path), os.O_WRONLY | os.O_CREAT, 0o644)
                try:
                    os.write(fd, b'x' * 3000)
                finally:
                    os.close(fd)
            for i in range(12):
                for folder in ('docs', 'many'):
                    d = '%s/d%d' % (folder, i)
                    attempt('mkdir', d, lambda: os.mkdir(os.path.join(root, d)))
                f = 'many/full/s%d.txt' % i
                attempt('close', f, lambda: small(f))
                if i < 10:
                    attempt('rename', 'many/f%d.txt' % i, lambda: os.rename(os.path.join(root, 'docs', 'f%d.txt' % i),
                                                                             os.path.join(root, 'many', 'f%d.txt' % i)))
            attempt('unlink', 'docs/page.html', lambda: os.unlink(os.path.join(root, 'docs', 'page.html')))
            json.dump(results, sys.stdout)
            """
        let run = try runCommand("/usr/bin/python3", ["-c", script, mount.mountpoint], timeout: 120)
        #expect(run.status == 0, "\(run.stderr)")
        let results = (try JSONSerialization.jsonObject(with: run.stdoutData) as? [[String]]) ?? []
        #expect(results.count == 12 * 3 + 10 + 1)
        let outcomes = Set(results.map { $0[1] })
        #expect(outcomes.isSubset(of: ["ok", "ENOSPC"]), "\(results)")
        #expect(results.filter { $0[1] == "ENOSPC" }.count > 10, "the disk was meant to be full: \(results)")
        let check = try Self.fstest(store)
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")

        // An unmount on the full disk cannot save Data.fs.index, and still
        // works; the next mount scans instead and serves what succeeded.
        try mount.unmount()
        #expect(!FileManager.default.fileExists(atPath: store + ".index.index_tmp"))
        mount = try MountedStore(store: store, in: scratch)
        for result in results where result[0] == "mkdir" && result[1] == "ok" {
            #expect(FileManager.default.fileExists(atPath: mount.path(result[2])), "\(result[2])")
        }

        // Space back: everything that failed works now.
        try FileManager.default.removeItem(atPath: disk + "/filler")
        try shell("mkdir -p \(quoted(mount.path("docs/later")))")
        try shell("printf 'later\\n' > \(quoted(mount.path("many/full/later.txt")))")
        try mount.unmount()
        let report = try StoreVerification(dataFS: store)
        #expect(report.problems == [])
        #expect(report["many/full/later.txt"]?.sha256 == sha256Hex(Array("later\n".utf8)))
        for result in results {
            let (call, outcome, path) = (result[0], result[1], result[2])
            switch call {
            case "mkdir":
                #expect((report[path] != nil) == (outcome == "ok"), "mkdir \(path): \(outcome)")
            case "close":
                // A write that failed may leave the file created empty, as on a disk.
                if outcome == "ok" {
                    #expect(report[path]?.size == 3000, "\(path)")
                } else {
                    #expect(report[path] == nil || report[path]?.size == 0, "\(path): \(String(describing: report[path]))")
                }
            case "rename":
                let source = "docs/" + path.dropFirst("many/".count)
                #expect((report[path] != nil) == (outcome == "ok"), "rename to \(path): \(outcome)")
                #expect((report[source] != nil) == (outcome != "ok"), "rename from \(source): \(outcome)")
            default:
                #expect((report[path] == nil) == (outcome == "ok"), "unlink \(path): \(outcome)")
            }
        }
    }
}
