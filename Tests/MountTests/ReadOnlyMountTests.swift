import Foundation
import TestSupport
import Testing

/// The read-only mount, driven with the tools users point at it.
@Suite(.serialized, .enabled(if: MountedStore.available)) struct ReadOnlyMountTests {
    @Test func findAndSha256sumMatchTheManifest() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let mount = try MountedStore(store: fixture.dataFS, in: scratch, arguments: ["--read-only"])
        defer { try? mount.unmount() }

        // Every object appears at its path, nothing else does (the control folder aside).
        let found = try shell("cd \(quoted(mount.mountpoint)) && find . -mindepth 1 -not -path './.zodbfs*' -printf '%P\\0'")
        let paths = Set(found.stdout.split(separator: "\0").map(String.init))
        #expect(paths == Set(fixture.manifest.entries.map(\.path)))

        // Bytes, sizes and mtimes, through the kernel.
        let sums = try shell("cd \(quoted(mount.mountpoint)) && find . -type f -not -path './.zodbfs*' -print0 | xargs -0 sha256sum")
        var digests: [String: String] = [:]
        for line in sums.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            digests[String(parts[1].dropFirst(3))] = String(parts[0])
        }
        let stats = try shell("cd \(quoted(mount.mountpoint)) && find . -mindepth 1 -not -path './.zodbfs*' -printf '%P\\0%s\\0%T@\\0%y\\0'")
        let fields = stats.stdout.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
        var statByPath: [String: (Int, Double, String)] = [:]
        var i = 0
        while i + 3 < fields.count {
            statByPath[fields[i]] = (Int(fields[i + 1])!, Double(fields[i + 2])!, fields[i + 3])
            i += 4
        }
        for entry in fixture.manifest.entries {
            let s = statByPath[entry.path]
            #expect(s != nil, "\(entry.path)")
            if entry.isFolder {
                // A folder's mtime is its newest record's: adding to a
                // BTreeFolder2 rewrites a bucket, not the folder.
                #expect((s?.1 ?? 0) >= entry.mtime - 1e-5, "mtime of \(entry.path)")
            } else {
                #expect(abs((s?.1 ?? 0) - entry.mtime) < 1e-5, "mtime of \(entry.path)")
            }
            if entry.isFile {
                #expect(digests[entry.path] == entry.sha256, "\(entry.path)")
                #expect(s?.0 == entry.size, "\(entry.path)")
                #expect(s?.2 == "f")
            } else if entry.isFolder {
                #expect(s?.2 == "d", "\(entry.path)")
            }
        }
    }

    @Test func bigFolderNonAsciiNamesAndRefusedWrites() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let mount = try MountedStore(store: fixture.dataFS, in: scratch, arguments: ["--read-only"])
        defer { try? mount.unmount() }

        let biggest = fixture.folders.max { childNames(of: $0.path).count < childNames(of: $1.path).count }!
        func childNames(of folder: String) -> [String] {
            fixture.manifest.entries.filter { ($0.path as NSString).deletingLastPathComponent == folder }.map(\.path)
        }
        let listed = try shell("ls -1 -f \(quoted(mount.path(biggest.path))) | grep -v '^\\.\\.\\?$' | wc -l")
        #expect(Int(listed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) == childNames(of: biggest.path).count)
        #expect(childNames(of: biggest.path).count >= 5000)

        let nonASCII = fixture.manifest.entries.filter { $0.path.unicodeScalars.contains { $0.value > 127 } }
        #expect(!nonASCII.isEmpty)
        for entry in nonASCII {
            #expect(FileManager.default.fileExists(atPath: mount.path(entry.path)), "\(entry.path)")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: mount.mountpoint)
        for entry in nonASCII where !entry.path.contains("/") {
            #expect(names.contains(entry.path))
        }

        let file = mount.path(fixture.files[0].path)
        for attempt in ["touch \(quoted(mount.path("new-file")))",
                        "mkdir \(quoted(mount.path("new-dir")))",
                        "echo x > \(quoted(file))",
                        "echo x >> \(quoted(file))",
                        "rm \(quoted(file))",
                        "mv \(quoted(file)) \(quoted(mount.path("renamed")))",
                        "ln -s x \(quoted(mount.path("link")))",
                        "setfattr -n user.zope.title -v x \(quoted(file)) 2>&1 || python3 -c 'import os,sys; os.setxattr(sys.argv[1], \"user.zope.title\", b\"x\")' \(quoted(file))",
                        "truncate -s 0 \(quoted(file))",
                        "chmod 600 \(quoted(file))"] {
            let result = try shell(attempt, allowFailure: true)
            #expect(result.status != 0, "\(attempt)")
            #expect(result.stderr.contains("Read-only file system"), "\(attempt): \(result.stderr)")
        }
        let xattr = try shell("python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], \"user.zodb.oid\").decode())' \(quoted(file))")
        #expect(xattr.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0x\(fixture.files[0].oid)")
        let info = try String(contentsOfFile: mount.path(".zodbfs/info"), encoding: .utf8)
        #expect(info.contains("read_only: true"))
    }

    @Test func followsTransactionsAppendedByPythonWithinOneSecond() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let copy = scratch.path("Data.fs")
        try FileManager.default.copyItem(atPath: fixture.dataFS, toPath: copy)
        try FileManager.default.copyItem(atPath: fixture.index, toPath: copy + ".index")
        let mount = try MountedStore(store: copy, in: scratch, arguments: ["--read-only"])
        defer { try? mount.unmount() }

        let folder = fixture.folders.first { !$0.path.contains("/") }!
        let target = mount.path(folder.path + "/appended.txt")
        // The kernel has looked at the folder, so its cached state must be invalidated.
        _ = try FileManager.default.contentsOfDirectory(atPath: mount.path(folder.path))
        #expect(!FileManager.default.fileExists(atPath: target))

        let content = "appended while mounted\n"
        let result = try runCommand(try TestEnvironment.python(),
                                    [TestEnvironment.script("fixtures/append_file.py"), copy, folder.path, "appended.txt", content])
        #expect(result.status == 0, "\(result.stderr)")
        let committed = Date()
        var seenAfter: Double?
        while Date().timeIntervalSince(committed) < 3 {
            if (try? FileManager.default.contentsOfDirectory(atPath: mount.path(folder.path)))?.contains("appended.txt") == true {
                seenAfter = Date().timeIntervalSince(committed)
                break
            }
            usleep(20_000)
        }
        #expect(seenAfter != nil && seenAfter! < 1.0, "seen after \(seenAfter ?? -1) s")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == content)

        // A file replaced in place (same oid) shows its new bytes, not cached pages.
        let replaced = "replaced content\n"
        _ = try String(contentsOfFile: target, encoding: .utf8)
        let second = try runCommand(try TestEnvironment.python(),
                                    [TestEnvironment.script("fixtures/append_file.py"), "--replace", copy, folder.path, "appended.txt", replaced])
        #expect(second.status == 0, "\(second.stderr)")
        var updated = false
        let start = Date()
        while Date().timeIntervalSince(start) < 3 {
            if (try? String(contentsOfFile: target, encoding: .utf8)) == replaced { updated = true; break }
            usleep(20_000)
        }
        #expect(updated)
        #expect(Date().timeIntervalSince(start) < 1.0)
    }

    @Test func cliErrorsAreOneClearLine() throws {
        let binary = try TestEnvironment.binary()
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let missing = try runCommand(binary, ["mount", scratch.path("nope.fs"), scratch.path("mnt")])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("\(scratch.path("nope.fs")): no such file"), "\(missing.stderr)")
        try Data("not a storage".utf8).write(to: URL(fileURLWithPath: scratch.path("bad.fs")))
        let bad = try runCommand(binary, ["info", scratch.path("bad.fs")])
        #expect(bad.status != 0)
        #expect(bad.stderr.lowercased().contains("not a filestorage"), "\(bad.stderr)")
        let fixture = try TestEnvironment.zopeFixture()
        let noMountpoint = try runCommand(binary, ["mount", fixture.dataFS, scratch.path("missing-dir")])
        #expect(noMountpoint.status != 0)
        #expect(noMountpoint.stderr.contains("cannot mount on \(scratch.path("missing-dir")): no such directory"),
                "\(noMountpoint.stderr)")

        // A second mount on a busy mount point fails clearly.
        let mount = try MountedStore(store: fixture.dataFS, in: scratch, arguments: ["--read-only"])
        defer { try? mount.unmount() }
        let busy = try runCommand(binary, ["mount", fixture.dataFS, mount.mountpoint])
        #expect(busy.status != 0)
        #expect(!busy.stderr.isEmpty)

        // ls / cat / info work on the Data.fs without a mount.
        let file = fixture.files.max { $0.size! < $1.size! }!
        let cat = try runCommand(binary, ["cat", fixture.dataFS, file.path])
        #expect(sha256Hex(cat.stdoutData) == file.sha256)
        let info = try runCommand(binary, ["info", fixture.dataFS])
        #expect(info.stdout.contains("format: FS30"))
        let ls = try runCommand(binary, ["ls", fixture.dataFS])
        #expect(Set(ls.stdout.split(separator: "\n").map(String.init))
            .isSuperset(of: fixture.manifest.entries.filter { !$0.path.contains("/") }.map(\.path)))
    }

    /// Once a mount is up, the daemon's code is mapped in whole, and it
    /// stays mapped through a drop of the page cache: the first requests
    /// after mounting do not wait for the disk to page it in.
    @Test func theDaemonsCodeIsResidentOnceMounted() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let mount = try MountedStore(store: fixture.dataFS, in: scratch, arguments: ["--read-only"])
        defer { try? mount.unmount() }
        let pid = try WriteMountTests.servingPid(mount)
        let binary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")
        /// Size and resident KiB of the binary's executable mappings.
        func code() throws -> (size: Int, resident: Int) {
            let smaps = try String(contentsOfFile: "/proc/\(pid)/smaps", encoding: .utf8)
            var size = 0, resident = 0, inCode = false
            for line in smaps.split(separator: "\n") {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                if let range = fields.first, range.contains("-"), fields.count >= 5 {
                    inCode = fields[1].contains("x") && fields.count == 6 && fields[5] == binary
                } else if inCode, fields.count >= 2, fields[0] == "Size:" || fields[0] == "Rss:" {
                    if fields[0] == "Size:" { size += Int(fields[1]) ?? 0 } else { resident += Int(fields[1]) ?? 0 }
                }
            }
            return (size, resident)
        }
        var mapped = try code()
        for _ in 0..<200 where mapped.resident < mapped.size { usleep(10_000); mapped = try code() }
        #expect(mapped.size > 0 && mapped.resident == mapped.size, "\(mapped)")
        if getuid() == 0 {
            try shell("sync; echo 3 > /proc/sys/vm/drop_caches")
            let after = try code()
            #expect(after.resident == after.size, "after dropping the page cache: \(after)")
        }
    }

    @Test func unmountOnSigterm() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let mountpoint = scratch.path("mnt")
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
        // `mount -f` in the background of a shell; SIGTERM must unmount it.
        let script = "\(quoted(try TestEnvironment.binary())) mount -f \(quoted(fixture.dataFS)) \(quoted(mountpoint)) >/dev/null 2>&1 & echo $!"
        let started = try shell(script)
        let pid = pid_t(started.stdout.trimmingCharacters(in: .whitespacesAndNewlines))!
        for _ in 0..<500 where !MountedStore.isMounted(mountpoint) { usleep(10_000) }
        #expect(MountedStore.isMounted(mountpoint))
        kill(pid, SIGTERM)
        for _ in 0..<500 where kill(pid, 0) == 0 { usleep(10_000) }
        #expect(kill(pid, 0) != 0, "the mount process exited")
        #expect(!MountedStore.isMounted(mountpoint))
        #expect(try FileManager.default.contentsOfDirectory(atPath: mountpoint).isEmpty)
    }
}

/// `mount -t fuse` as fstab lines and systemd mount units do it, with the
/// `-o` options mount(8) passes on.
@Suite(.serialized, .enabled(if: MountedStore.available)) struct MountHelperTests {
    @Test func mountDotFuseWithOptions() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let mountpoint = scratch.path("mnt")
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
        let source = try TestEnvironment.binary() + "#" + fixture.dataFS
        try shell("mount -t fuse \(quoted(source)) \(quoted(mountpoint)) -o ro,allow_other,umask=027,uid=4321,nodev,nofail,_netdev")
        defer { _ = try? shell("umount \(quoted(mountpoint))", allowFailure: true) }
        let line = try shell("grep \(quoted(" " + mountpoint + " ")) /proc/mounts").stdout
        #expect(line.contains("fuse.zodbfs") && line.contains("ro,") && line.contains("allow_other") && line.contains("nodev"), "\(line)")
        let stat = try shell("stat -c '%a %u' \(quoted(mountpoint + "/docs")) \(quoted(mountpoint + "/docs/readme.txt"))").stdout
        #expect(stat == "750 4321\n640 4321\n", "\(stat)")
        let readme = fixture.manifest.entries.first { $0.path == "docs/readme.txt" }!
        #expect(try shell("sha256sum < \(quoted(mountpoint + "/docs/readme.txt"))").stdout.hasPrefix(readme.sha256 ?? "?"))
        try shell("umount \(quoted(mountpoint))")
        #expect(!MountedStore.isMounted(mountpoint))
    }
}
