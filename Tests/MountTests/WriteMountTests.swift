import Foundation
import TestSupport
import Testing

/// The writable mount, driven with cp, rsync, tar and mv, then opened by
/// the real ZODB and Zope (`verify_store.py`): what the tools wrote must be
/// exactly what Zope finds, and ZODB's checkers must report nothing.
@Suite(.serialized, .enabled(if: MountedStore.available)) struct WriteMountTests {
    /// A copy of the fixture to write into.
    static func copyOfFixture(in scratch: ScratchDirectory) throws -> String {
        let fixture = try TestEnvironment.zopeFixture()
        let copy = scratch.path("Data.fs")
        try FileManager.default.copyItem(atPath: fixture.dataFS, toPath: copy)
        try FileManager.default.copyItem(atPath: fixture.index, toPath: copy + ".index")
        return copy
    }

    /// `sha256sum` of every file under `directory`, by relative path.
    static func digests(_ directory: String) throws -> [String: String] {
        let sums = try shell("cd \(quoted(directory)) && find . -type f -not -path './.zodbfs/*' -print0 | xargs -0 -r sha256sum")
        var result: [String: String] = [:]
        for line in sums.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            result[String(parts[1].dropFirst(3))] = String(parts[0])
        }
        return result
    }

    /// A small tree like a website's: nested folders, names with spaces
    /// and non-ASCII letters, text and binary files around the 64 KiB
    /// chunk size.
    static func makeTree(_ root: String) throws {
        try shell("""
            set -e
            mkdir -p \(quoted(root))/css \(quoted(root))/img/icons \(quoted(root))/'docs ü'/deep/deeper
            printf 'body { color: red }\\n' > \(quoted(root))/css/site.css
            printf '<html><body>home</body></html>\\n' > \(quoted(root))/index.html
            head -c 65536 /dev/urandom > \(quoted(root))/img/exact.bin
            head -c 200001 /dev/urandom > \(quoted(root))/img/icons/chain.bin
            head -c 1000 /dev/urandom > \(quoted(root))/'docs ü'/deep/deeper/ünïcödé.dat
            for i in $(seq 1 40); do echo "note $i" > \(quoted(root))/'docs ü'/note-$i.txt; done
            touch \(quoted(root))/'docs ü'/empty.txt
            """)
    }

    @Test func cpRsyncTarAndSaveByRenameLandInTheStore() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try Self.copyOfFixture(in: scratch)
        let source = scratch.path("src")
        try Self.makeTree(source)
        try shell("head -c \(256 << 20) /dev/urandom > \(quoted(source))/big-256MiB.bin")
        let mount = try MountedStore(store: store, in: scratch)
        defer { try? mount.unmount() }
        let pid = try Self.servingPid(mount)

        try shell("cp -r \(quoted(source)) \(quoted(mount.path("copied")))")
        try shell("rm \(quoted(source))/big-256MiB.bin")
        try shell("rsync -a \(quoted(source))/ \(quoted(mount.path("synced")))/")
        let second = try shell("rsync -a --stats \(quoted(source))/ \(quoted(mount.path("synced")))/")
        #expect(second.stdout.contains("Number of regular files transferred: 0"), "\(second.stdout)")
        try shell("mkdir \(quoted(mount.path("tarred"))) && tar c -C \(quoted(source)) . | tar x -C \(quoted(mount.path("tarred")))")
        let back = scratch.path("back")
        try shell("mkdir \(quoted(back)) && tar c -C \(quoted(mount.path("tarred"))) . | tar x -C \(quoted(back))")
        // An editor's save: write a temporary file, then rename it over the original.
        try shell("""
            cd \(quoted(mount.path("copied")))
            printf 'saved by an editor\\n' > .index.html.swp && mv .index.html.swp index.html
            """)

        let sourceDigests = try Self.digests(source)
        let copied = try Self.digests(mount.path("copied"))
        #expect(copied["big-256MiB.bin"] != nil)
        #expect(copied["index.html"] == sha256Hex(Array("saved by an editor\n".utf8)))
        for (path, digest) in sourceDigests where path != "index.html" {
            #expect(copied[path] == digest, "copied/\(path)")
        }
        #expect(try Self.digests(mount.path("synced")) == sourceDigests)
        #expect(try Self.digests(mount.path("tarred")) == sourceDigests)
        #expect(try Self.digests(back) == sourceDigests)
        let bigDigest = copied["big-256MiB.bin"]
        // Every spool went away with its handle: no spool descriptor is
        // left over, and the spool folder holds no file.
        #expect(try Self.spoolDescriptors(pid) == 0)
        // The counters saw it all (zodbfs stats, the one-screen summary).
        let stats = try shell("\(quoted(try TestEnvironment.binary())) stats \(quoted(mount.mountpoint)) --once").stdout
        let commits = stats.split(separator: "\n").first { $0.hasPrefix("commits ") }.flatMap { Int($0.split(separator: " ").last ?? "") }
        #expect((commits ?? 0) > 100, "\(stats)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: store + ".spool") == [])
        try mount.unmount()

        let report = try StoreVerification(dataFS: store)
        #expect(report.problems == [])
        for (path, digest) in sourceDigests {
            #expect(report["synced/" + path]?.sha256 == digest, "Zope's synced/\(path)")
            #expect(report["tarred/" + path]?.sha256 == digest, "Zope's tarred/\(path)")
        }
        #expect(report["copied/big-256MiB.bin"]?.sha256 == bigDigest)
        #expect(report["copied/index.html"]?.sha256 == sha256Hex(Array("saved by an editor\n".utf8)))
        #expect(report["copied/.index.html.swp"] == nil)
        #expect(report["synced/css/site.css"]?.content_type == "text/css")
        #expect(report["synced/index.html"]?.content_type == "text/html")
    }

    @Test func aSessionOfChangesLeavesExactlyTheExpectedTree() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let fixture = try TestEnvironment.zopeFixture()
        let store = try Self.copyOfFixture(in: scratch)
        let mount = try MountedStore(store: store, in: scratch)
        defer { try? mount.unmount() }
        let m = quoted(mount.mountpoint)
        try shell("""
            set -e
            cd \(m)
            printf 'new text\\n' > docs/new.txt                       # create
            head -c 300001 /dev/zero | tr '\\0' 'a' > files/big.bin     # overwrite whole
            printf 'XYZ' | dd of=files/chain-1MiB.bin bs=1 seek=100000 conv=notrunc status=none   # middle
            printf 'tail' >> files/tiny.txt                            # append
            truncate -s 150000 files/text-300000.txt                   # truncate
            mv docs/readme.txt docs/readme-renamed.txt                 # rename in a Folder
            mv docs/page.html files/page.html                          # across Folders
            rm files/empty.txt                                         # delete a file
            rm -r 'docs/level2'                                        # delete a folder tree
            mkdir 'new folder' && printf 'in new\\n' > 'new folder/a.txt'
            printf 'btree\\n' > many/added.txt                        # BTreeFolder2: add
            rm many/file-00010.txt many/file-00011.txt                 # remove
            mv many/file-00012.txt many/renamed.txt                    # rename inside
            mv many/file-00013.txt docs/from-btree.txt                 # out of the BTreeFolder2
            mv docs/Café\\ menu.txt 'small btree/menu.txt'            # into another
            """)
        try mount.unmount()

        var expected = Set(fixture.manifest.entries.map(\.path))
        expected.subtract(["docs/readme.txt", "docs/page.html", "files/empty.txt", "many/file-00010.txt",
                           "many/file-00011.txt", "many/file-00012.txt", "many/file-00013.txt", "docs/Café menu.txt"])
        expected = expected.filter { !$0.hasPrefix("docs/level2") }
        expected.formUnion(["docs/new.txt", "docs/readme-renamed.txt", "files/page.html", "new folder",
                            "new folder/a.txt", "many/added.txt", "many/renamed.txt", "docs/from-btree.txt",
                            "small btree/menu.txt"])
        let report = try StoreVerification(dataFS: store)
        #expect(report.problems == [])
        let found = Set(report.entries.map(\.path))
        #expect(found.subtracting(expected).sorted() == [], "unexpected paths")
        #expect(expected.subtracting(found).sorted() == [], "missing paths")
        #expect(report["docs/new.txt"]?.sha256 == sha256Hex(Array("new text\n".utf8)))
        #expect(report["files/big.bin"]?.sha256 == sha256Hex([UInt8](repeating: UInt8(ascii: "a"), count: 300_001)))
        #expect(report["files/big.bin"]?.size == 300_001)
        #expect(report["files/text-300000.txt"]?.size == 150_000)
        let tiny = fixture.manifest.entries.first { $0.path == "files/tiny.txt" }!
        #expect(report["files/tiny.txt"]?.size == (tiny.size ?? 0) + 4)
        let chain = fixture.manifest.entries.first { $0.path == "files/chain-1MiB.bin" }!
        #expect(report["files/chain-1MiB.bin"]?.size == chain.size)
        #expect(report["files/chain-1MiB.bin"]?.sha256 != chain.sha256)
        for moved in [("docs/readme-renamed.txt", "docs/readme.txt"), ("files/page.html", "docs/page.html"),
                      ("many/renamed.txt", "many/file-00012.txt"), ("small btree/menu.txt", "docs/Café menu.txt")] {
            let original = fixture.manifest.entries.first { $0.path == moved.1 }!
            #expect(report[moved.0]?.sha256 == original.sha256, "\(moved.0) keeps its bytes")
            #expect(report[moved.0]?.content_type == original.content_type, "\(moved.0) keeps its type")
        }
    }

    /// How many spool files process `pid` has open.
    static func spoolDescriptors(_ pid: Int32) throws -> Int {
        let directory = "/proc/\(pid)/fd"
        return try FileManager.default.contentsOfDirectory(atPath: directory).filter { fd in
            ((try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + fd)) ?? "").contains(".spool")
        }.count
    }

    /// The pid of the zodbfs process serving `mount`.
    static func servingPid(_ mount: MountedStore) throws -> Int32 {
        let info = try String(contentsOfFile: mount.path(".zodbfs/info"), encoding: .utf8)
        let line = info.split(separator: "\n").first { $0.hasPrefix("pid: ") }
        return Int32(line.map { String($0.dropFirst(5)) } ?? "") ?? 0
    }

    @Test func killNineDuringACopyAndACommitStreamLosesNothingAcknowledged() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try Self.copyOfFixture(in: scratch)
        let big = scratch.path("big.bin")
        try shell("head -c \(48 << 20) /dev/urandom > \(quoted(big))")
        let bigDigest = try shell("sha256sum \(quoted(big)) | cut -c1-64").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        var acknowledged: [String: String] = [:]
        var rng = SystemRandomNumberGenerator()
        for round in 0..<20 {
            let mount = try MountedStore(store: store, in: scratch)
            let pid = try Self.servingPid(mount)
            #expect(pid > 0)
            let log = scratch.path("acks-\(round).log")
            // A big copy and a stream of small files, each acknowledged in a
            // log on the local disk only after its close returned.
            try shell("""
                (cp \(quoted(big)) \(quoted(mount.path("copy-\(round).bin"))) 2>/dev/null; true) &
                \(acknowledgedWriter(into: mount.path("docs"), round: round, prefix: "r", log: log))
                sleep 0.\(Int.random(in: 05...95, using: &rng))
                kill -9 \(pid)
                wait
                """, allowFailure: true)
            _ = try shell("umount -l \(quoted(mount.mountpoint))", allowFailure: true)
            let acked = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            for name in acked.split(separator: "\n") {
                let i = name.split(separator: "-").last!.dropLast(4)
                acknowledged["docs/" + name] = sha256Hex(Array("round \(round) file \(i)\n".utf8))
            }
            // Remounting works (a read-write open cuts the torn tail, as
            // ZODB's does), and then ZODB finds the store clean.
            let again = try MountedStore(store: store, in: scratch)
            try again.unmount()
            let report = try StoreVerification(dataFS: store)
            #expect(report.problems == [], "round \(round)")
            for (path, digest) in acknowledged {
                #expect(report[path]?.sha256 == digest, "round \(round): acknowledged \(path)")
            }
            if let copy = report["copy-\(round).bin"] {
                #expect(copy.sha256 == bigDigest, "round \(round): the interrupted copy is complete or absent")
            }
        }
        #expect(acknowledged.count > 20)
    }

    @Test func aFullDiskFailsCloseWithENOSPCAndLeavesTheStoreIntact() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let small = scratch.path("small-fs")
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        try shell("mount -t tmpfs -o size=48m zodbfs-test \(quoted(small))")
        defer { _ = try? shell("umount -l \(quoted(small))", allowFailure: true) }
        let fixture = try TestEnvironment.zopeFixture()
        let store = small + "/Data.fs"
        try FileManager.default.copyItem(atPath: fixture.dataFS, toPath: store)
        let mount = try MountedStore(store: store, in: scratch)
        defer { try? mount.unmount() }

        // 20 MiB fit in the spool; the commit needs as much again and does not fit.
        let result = try shell("""
            python3 - \(quoted(mount.path("docs/too-big.bin"))) <<'PY'
            import errno, os, sys
            fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
            block = os.urandom(1 << 20)
            try:
                for _ in range(20):
                    os.write(fd, block)
            except OSError as e:
                print("write", errno.errorcode[e.errno]); sys.exit(0)
            try:
                os.close(fd)
            except OSError as e:
                print("close", errno.errorcode[e.errno]); sys.exit(0)
            print("closed")
            PY
            """)
        #expect(result.stdout.contains("ENOSPC"), "\(result.stdout)")
        // The kernel is told to forget the name once the handle is released.
        for _ in 0..<200 where FileManager.default.fileExists(atPath: mount.path("docs/too-big.bin")) { usleep(10_000) }
        #expect(!FileManager.default.fileExists(atPath: mount.path("docs/too-big.bin")))
        // Later operations work.
        try shell("printf 'still fine\\n' > \(quoted(mount.path("docs/after.txt")))")
        try mount.unmount()
        let report = try StoreVerification(dataFS: store)
        #expect(report.problems == [])
        #expect(report["docs/too-big.bin"] == nil)
        #expect(report["docs/after.txt"]?.sha256 == sha256Hex(Array("still fine\n".utf8)))
        #expect(report.entries.count == fixture.manifest.entries.count + 1)
    }

    @Test func aStoreHeldByZopeIsRefusedClearly() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try Self.copyOfFixture(in: scratch)
        // Python opens the FileStorage read-write (taking Data.fs.lock) and
        // holds it until its stdin closes.
        let ready = scratch.path("holder.ready")
        let holder = try shell("""
            (sleep 30 | \(quoted(try TestEnvironment.python())) \(quoted(TestEnvironment.script("peers/hold_storage.py"))) \(quoted(store)) \(quoted(ready)) > /dev/null 2>&1 &)
            for i in $(seq 1 100); do grep -q open \(quoted(ready)) 2>/dev/null && break; sleep 0.1; done
            cat \(quoted(ready))
            """)
        #expect(holder.stdout.contains("open"))
        defer { _ = try? shell("pkill -f hold_storage.py", allowFailure: true) }
        let mountpoint = scratch.path("mnt")
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
        let result = try runCommand(try TestEnvironment.binary(), ["mount", store, mountpoint], timeout: 60)
        #expect(result.status != 0)
        #expect(result.stderr.contains("in use"), "\(result.stderr)")
        #expect(!MountedStore.isMounted(mountpoint))
        // Read-only mounts take no lock and are fine beside it.
        let readOnly = try MountedStore(store: store, in: scratch, arguments: ["--read-only"])
        try readOnly.unmount()
    }
}
