import Foundation
import TestSupport
import Testing

/// The mount operated the way an administrator runs sshfs or rclone mount:
/// `mount -t fuse.zodbfs`, the shipped fstab lines and systemd unit, other
/// users reading through `allow_other`, backup programs walking the whole
/// tree, and `.zodbfs/stats` scraped as Prometheus text.
@Suite(.serialized, .enabled(if: MountedStore.available)) struct OperationsTests {
    // MARK: - mount(8), fstab, systemd

    @Test func mountTypeFuseZodbfsDaemonizesAndUnmounts() throws {
        let installed = try InstalledBinary()
        defer { installed.remove() }
        let fixture = try TestEnvironment.zopeFixture()
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let mountpoint = scratch.path("mnt")
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)

        // mount(8) hands the fuse.zodbfs type to mount.fuse3, which runs
        // the installed `zodbfs STORE MOUNTPOINT -o …`; it must return
        // with the mount already live.
        let mounted = try runCommand("mount", ["-t", "fuse.zodbfs", fixture.dataFS, mountpoint, "-o", "ro,allow_other"],
                                     timeout: 60)
        defer { if MountedStore.isMounted(mountpoint) { _ = try? runCommand("umount", ["-l", mountpoint]) } }
        #expect(mounted.status == 0, "\(mounted.stderr)")
        #expect(MountedStore.isMounted(mountpoint))
        let line = try mountsLine(mountpoint)
        #expect(line.hasPrefix(fixture.dataFS + " "), "\(line)")
        #expect(line.contains(" fuse.zodbfs "), "\(line)")
        #expect(mountOptions(line).contains("ro") && mountOptions(line).contains("allow_other"), "\(line)")

        // The serving process outlived the mount command: a daemon.
        let pid = try servingPid(mountpoint)
        #expect(pid > 0 && processIsRunning(pid))
        let readme = fixture.manifest.entries.first { $0.path == "docs/readme.txt" }!
        #expect(try sha256(of: mountpoint + "/docs/readme.txt") == readme.sha256)

        try shell("umount \(quoted(mountpoint))")
        #expect(!MountedStore.isMounted(mountpoint))
        #expect(waitUntil(seconds: 10) { !processIsRunning(pid) }, "the mount process \(pid) did not exit after umount")
    }

    @Test func shippedFstabLinesMountAndUnmount() throws {
        let installed = try InstalledBinary()
        defer { installed.remove() }
        let fixture = try TestEnvironment.zopeFixture()
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let shipped = try String(contentsOfFile: TestEnvironment.packageRoot.appendingPathComponent("examples/fstab").path,
                                 encoding: .utf8)
        let lines = shipped.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        #expect(lines.count == 2, "\(lines)")

        for (number, line) in lines.enumerated() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            try #require(fields.count == 6, "\(line)")
            #expect(fields[2] == "fuse.zodbfs", "\(line)")
            let options = fields[3].split(separator: ",").map(String.init)
            let writable = !options.contains("ro")
            // The writable line takes the store's lock: give it a copy.
            let store = try writable ? copyOfFixture(in: scratch, as: "rw-\(number)") : fixture.dataFS
            let mountpoint = scratch.path("mnt-\(number)")
            try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
            var backupDir: String?
            let substituted = try options.map { option -> String in
                guard option.hasPrefix("backup_dir=") else { return option }
                let dir = scratch.path("backups-\(number)")
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                backupDir = dir
                return "backup_dir=" + dir
            }
            let table = scratch.path("fstab-\(number)")
            try "\(store) \(mountpoint) \(fields[2]) \(substituted.joined(separator: ",")) \(fields[4]) \(fields[5])\n"
                .write(toFile: table, atomically: true, encoding: .utf8)

            // mount(8) reads the line from the table, as it would from /etc/fstab.
            let mounted = try runCommand("mount", ["--fstab", table, mountpoint], timeout: 60)
            defer { if MountedStore.isMounted(mountpoint) { _ = try? runCommand("umount", ["-l", mountpoint]) } }
            #expect(mounted.status == 0, "line \(number + 1): \(mounted.stderr)")
            #expect(MountedStore.isMounted(mountpoint), "line \(number + 1)")
            let kernel = mountOptions(try mountsLine(mountpoint))
            #expect(kernel.contains(writable ? "rw" : "ro"), "line \(number + 1): \(kernel)")
            for option in ["allow_other", "nodev", "nosuid"] where options.contains(option) {
                #expect(kernel.contains(option), "line \(number + 1): \(option) not in \(kernel)")
            }
            let pid = try servingPid(mountpoint)
            #expect(pid > 0 && processIsRunning(pid), "line \(number + 1)")
            let readme = fixture.manifest.entries.first { $0.path == "docs/readme.txt" }!
            #expect(try sha256(of: mountpoint + "/docs/readme.txt") == readme.sha256, "line \(number + 1)")

            if writable {
                // Writes commit, and backup_dir= is where `.zodbfs/backup` writes.
                try shell("printf 'from fstab\\n' > \(quoted(mountpoint + "/docs/fstab.txt"))")
                try shell("echo full > \(quoted(mountpoint + "/.zodbfs/backup"))")
                let status = waitForJob(mountpoint + "/.zodbfs/backup")
                #expect(status.contains("state: done"), "\(status)")
                let files = try FileManager.default.contentsOfDirectory(atPath: try #require(backupDir))
                #expect(files.contains { $0.hasSuffix(".fs") } && files.contains { $0.hasSuffix(".dat") }, "\(files)")
            }

            try shell("umount \(quoted(mountpoint))")
            #expect(!MountedStore.isMounted(mountpoint), "line \(number + 1)")
            #expect(waitUntil(seconds: 10) { !processIsRunning(pid) }, "line \(number + 1): mount process still running")
            if writable {
                let verified = try StoreVerification(dataFS: store)
                #expect(verified.problems.isEmpty, "\(verified.problems)")
                #expect(verified["docs/fstab.txt"]?.size == 11)
            }
        }
    }

    @Test func shippedSystemdUnitCommandsStartAndStopTheMount() throws {
        let installed = try InstalledBinary()
        defer { installed.remove() }
        let fixture = try TestEnvironment.zopeFixture()
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let unit = try String(contentsOfFile: TestEnvironment.packageRoot.appendingPathComponent("examples/zodbfs@.service").path,
                              encoding: .utf8)
        func setting(_ key: String) -> String? {
            unit.split(separator: "\n").first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
        }
        #expect(setting("Type") == "forking")
        let mountpoint = scratch.path("mnt")
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
        // What systemd runs for the instance: %f is the unescaped mount point.
        func command(_ key: String) throws -> String {
            try #require(setting(key), "no \(key) in the unit")
                .replacingOccurrences(of: "/srv/zope/var/Data.fs", with: fixture.dataFS)
                .replacingOccurrences(of: "%f", with: mountpoint)
        }
        let start = try command("ExecStart")
        let stop = try command("ExecStop")
        #expect(start.hasPrefix(InstalledBinary.path + " ") && stop.hasPrefix(InstalledBinary.path + " "))

        // Type=forking: ExecStart returns once the mount is live and a daemon serves it.
        let started = try runCommand("/bin/sh", ["-c", start], timeout: 60)
        defer { if MountedStore.isMounted(mountpoint) { _ = try? runCommand("umount", ["-l", mountpoint]) } }
        #expect(started.status == 0, "\(started.stderr)")
        #expect(MountedStore.isMounted(mountpoint))
        let kernel = mountOptions(try mountsLine(mountpoint))
        #expect(kernel.contains("ro") && kernel.contains("allow_other"), "\(kernel)")
        let pid = try servingPid(mountpoint)
        #expect(pid > 0 && processIsRunning(pid))
        let readme = fixture.manifest.entries.first { $0.path == "docs/readme.txt" }!
        #expect(try sha256(of: mountpoint + "/docs/readme.txt") == readme.sha256)

        let stopped = try runCommand("/bin/sh", ["-c", stop], timeout: 60)
        #expect(stopped.status == 0, "\(stopped.stderr)")
        #expect(!MountedStore.isMounted(mountpoint))
        #expect(waitUntil(seconds: 10) { !processIsRunning(pid) })
    }

    // MARK: - Other users

    @Test func anotherUserReadsThroughAllowOtherButCannotWrite() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        try shell("chmod 0755 \(quoted(scratch.url.path))")
        let user = try ThrowawayUser()
        defer { user.remove() }
        let store = try copyOfFixture(in: scratch, as: "store")
        let backups = scratch.path("backups")
        try FileManager.default.createDirectory(atPath: backups, withIntermediateDirectories: true)
        let storeSize = try FileManager.default.attributesOfItem(atPath: store)[.size] as? Int
        // A writable mount that would take pack and backup commands from
        // its owner: what refuses the other user is the permission check.
        let mount = try MountedStore(store: store, in: scratch, arguments: ["--allow-other", "--backup-dir", backups])
        defer { try? mount.unmount() }

        // What the mount shows: everything belongs to the mounting user;
        // folders 0755, files 0644, the command files 0644, the report
        // files 0444; default_permissions makes the kernel enforce it.
        let kernel = mountOptions(try mountsLine(mount.mountpoint))
        #expect(kernel.contains("default_permissions") && kernel.contains("allow_other"), "\(kernel)")
        let modes = try shell("cd \(quoted(mount.mountpoint)) && stat -c '%a %u %g %n' . docs docs/readme.txt .zodbfs .zodbfs/info .zodbfs/stats .zodbfs/pack .zodbfs/backup").stdout
        let owner = "\(getuid()) \(getgid())"
        #expect(modes == """
            755 \(owner) .
            755 \(owner) docs
            644 \(owner) docs/readme.txt
            555 \(owner) .zodbfs
            444 \(owner) .zodbfs/info
            444 \(owner) .zodbfs/stats
            644 \(owner) .zodbfs/pack
            644 \(owner) .zodbfs/backup

            """, "\(modes)")

        // Reads: a text file, a multi-chunk file, a folder listing, the report files.
        for path in ["docs/readme.txt", "files/chain-1MiB.bin", "Ünïcödé folder/Ωμέγα.bin"] {
            let entry = fixture.manifest.entries.first { $0.path == path }!
            let read = try user.run("sha256sum < \(quoted(mount.path(path)))")
            #expect(read.status == 0 && read.stdout.hasPrefix(entry.sha256 ?? "?"), "\(path): \(read.stderr)")
        }
        let listing = try user.run("ls \(quoted(mount.path("docs")))")
        #expect(listing.status == 0 && listing.stdout.contains("readme.txt"), "\(listing.stderr)")
        let info = try user.run("cat \(quoted(mount.path(".zodbfs/info")))")
        #expect(info.status == 0 && info.stdout.contains("storage: \(store)"), "\(info.stderr)")
        let stats = try user.run("cat \(quoted(mount.path(".zodbfs/stats")))")
        #expect(stats.status == 0 && stats.stdout.contains("zodbfs_read_total"), "\(stats.stderr)")

        // Writes: every one refused with EACCES.
        let refused: [(String, String)] = [
            ("pack command", "echo now > \(quoted(mount.path(".zodbfs/pack")))"),
            ("backup command", "echo full > \(quoted(mount.path(".zodbfs/backup")))"),
            ("info", "echo x > \(quoted(mount.path(".zodbfs/info")))"),
            ("new file", "echo x > \(quoted(mount.path("docs/new.txt")))"),
            ("new file at the root", "echo x > \(quoted(mount.path("new.txt")))"),
            ("overwrite", "echo x > \(quoted(mount.path("docs/readme.txt")))"),
            ("append", "echo x >> \(quoted(mount.path("docs/readme.txt")))"),
            ("mkdir", "mkdir \(quoted(mount.path("docs/sub")))"),
            ("rm", "rm -f \(quoted(mount.path("docs/readme.txt")))"),
            ("mv", "mv \(quoted(mount.path("docs/readme.txt"))) \(quoted(mount.path("docs/moved.txt")))"),
            ("chmod", "chmod 0777 \(quoted(mount.path("docs/readme.txt")))"),
        ]
        for (what, command) in refused {
            let result = try user.run(command)
            #expect(result.status != 0, "\(what) succeeded")
            #expect(result.stderr.contains("Permission denied") || result.stderr.contains("Operation not permitted"),
                    "\(what): \(result.stderr)")
        }

        // Nothing happened: no job ran, no file changed, nothing was committed.
        let pack = try readToEnd(mount.path(".zodbfs/pack"))
        #expect(pack.contains("state: idle") && !pack.contains("last_"), "\(pack)")
        let backup = try readToEnd(mount.path(".zodbfs/backup"))
        #expect(backup.contains("state: idle") && !backup.contains("last_"), "\(backup)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: backups).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: mount.path("docs/new.txt")))
        #expect(try sha256(of: mount.path("docs/readme.txt")) == fixture.manifest.entries.first { $0.path == "docs/readme.txt" }!.sha256)
        #expect(try FileManager.default.attributesOfItem(atPath: store)[.size] as? Int == storeSize)

        // The mounting user may: the same backup command from root runs.
        try shell("echo full > \(quoted(mount.path(".zodbfs/backup")))")
        let done = waitForJob(mount.path(".zodbfs/backup"))
        #expect(done.contains("state: done"), "\(done)")
    }

    @Test func anotherUserIsRefusedWithoutAllowOtherAndByUmask() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        try shell("chmod 0755 \(quoted(scratch.url.path))")
        let user = try ThrowawayUser()
        defer { user.remove() }
        let readme = fixture.manifest.entries.first { $0.path == "docs/readme.txt" }!

        // Without allow_other FUSE answers no one but the mounting user.
        do {
            let mount = try MountedStore(store: fixture.dataFS, in: scratch, arguments: ["--read-only"])
            defer { try? mount.unmount() }
            let read = try user.run("cat \(quoted(mount.path("docs/readme.txt")))")
            #expect(read.status != 0 && read.stderr.contains("Permission denied"), "\(read.stderr)")
            #expect(try sha256(of: mount.path("docs/readme.txt")) == readme.sha256)
            try mount.unmount()
        }
        // With allow_other and umask=027 the mode bits leave others out.
        do {
            let mount = try MountedStore(store: fixture.dataFS, in: scratch,
                                         arguments: ["--read-only", "--allow-other", "-o", "umask=027"])
            defer { try? mount.unmount() }
            let modes = try shell("stat -c '%a' \(quoted(mount.path("docs"))) \(quoted(mount.path("docs/readme.txt")))").stdout
            #expect(modes == "750\n640\n", "\(modes)")
            let read = try user.run("cat \(quoted(mount.path("docs/readme.txt")))")
            #expect(read.status != 0 && read.stderr.contains("Permission denied"), "\(read.stderr)")
            let list = try user.run("ls \(quoted(mount.mountpoint))")
            #expect(list.status != 0 && list.stderr.contains("Permission denied"), "\(list.stderr)")
            #expect(try sha256(of: mount.path("docs/readme.txt")) == readme.sha256)
            try mount.unmount()
        }
    }

    // MARK: - Backup programs over the whole mount

    @Test func rsyncAndTarCopyTheWholeMount() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let mount = try MountedStore(store: fixture.dataFS, in: scratch, arguments: ["--read-only"])
        defer { try? mount.unmount() }
        let copies = fixture.manifest.entries.filter { !$0.isFolder }

        // rsync -a of everything, .zodbfs/ included.
        let synced = scratch.path("rsynced")
        let rsync = try shell("timeout 600 rsync -a \(quoted(mount.mountpoint))/ \(quoted(synced))/", allowFailure: true)
        #expect(rsync.status == 0, "rsync: \(rsync.status) \(rsync.stderr)")
        try expectFaithfulCopy(synced, of: mount, entries: copies)
        // The control files come over as what stat says they are (empty
        // files), without an error, and a second run finds nothing to do.
        let control = try shell("cd \(quoted(synced))/.zodbfs && stat -c '%n %s' *").stdout
        #expect(control == "backup 0\ninfo 0\npack 0\nstats 0\n", "\(control)")
        let again = try shell("timeout 600 rsync -a --stats \(quoted(mount.mountpoint))/ \(quoted(synced))/", allowFailure: true)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("Number of regular files transferred: 0"), "\(again.stdout)")

        // tar c to /dev/null (GNU tar skips reading file data when the
        // archive is /dev/null), and through a pipe, which reads every byte.
        let devnull = try shell("timeout 600 tar c -C \(quoted(mount.mountpoint)) . > /dev/null", allowFailure: true)
        #expect(devnull.status == 0, "tar: \(devnull.status) \(devnull.stderr)")
        let tarred = scratch.path("tarred")
        try FileManager.default.createDirectory(atPath: tarred, withIntermediateDirectories: true)
        let piped = try shell("set -o pipefail; timeout 600 tar c -C \(quoted(mount.mountpoint)) . | tar x -C \(quoted(tarred))",
                              allowFailure: true)
        #expect(piped.status == 0, "tar | tar: \(piped.status) \(piped.stderr)")
        try expectFaithfulCopy(tarred, of: mount, entries: copies)
        try mount.unmount()
    }

    @Test func findTerminatesWithTheExpectedCount() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let mount = try MountedStore(store: fixture.dataFS, in: scratch, arguments: ["--read-only"])
        defer { try? mount.unmount() }
        // The mount root, every manifest entry, .zodbfs and its four files.
        let expected = 1 + fixture.manifest.entries.count + 1 + 4
        let counted = try shell("timeout 300 find \(quoted(mount.mountpoint)) | wc -l", allowFailure: true)
        #expect(counted.status == 0, "\(counted.stderr)")
        #expect(Int(counted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) == expected, "\(counted.stdout)")
        // Following symlinks changes nothing (there are none), and no folder
        // is its own descendant (find -L would report a loop).
        let followed = try shell("timeout 300 find -L \(quoted(mount.mountpoint)) | wc -l", allowFailure: true)
        #expect(followed.status == 0 && !followed.stderr.contains("loop"), "\(followed.stderr)")
        #expect(Int(followed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) == expected)
        let control = try shell("ls -A \(quoted(mount.path(".zodbfs")))").stdout
        #expect(control == "backup\ninfo\npack\nstats\n", "\(control)")
        try mount.unmount()
    }

    // MARK: - Stats

    @Test func statsParseAsPrometheusTextAndCountReads() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let mount = try MountedStore(store: fixture.dataFS, in: scratch, arguments: ["--read-only"])
        defer { try? mount.unmount() }

        let before = try PrometheusText(contentsOfFile: mount.path(".zodbfs/stats"))
        #expect(before.problems.isEmpty, "\(before.problems)")
        for (name, type) in [("zodbfs_read_total", "counter"), ("zodbfs_read_bytes_total", "counter"),
                             ("zodbfs_open_total", "counter"), ("zodbfs_lookups_total", "counter"),
                             ("zodbfs_node_cache_hits_total", "counter"), ("zodbfs_node_cache_misses_total", "counter"),
                             ("zodbfs_commits_total", "counter"), ("zodbfs_open_handles", "gauge"),
                             ("zodbfs_commit_seconds", "histogram")] {
            #expect(before.types[name] == type, "\(name): \(before.types[name] ?? "no TYPE")")
            #expect(before.helps[name] != nil, "\(name): no HELP")
        }

        // Read two files no one has read yet.
        let big = fixture.manifest.entries.first { $0.path == "files/big.bin" }!
        let photo = fixture.manifest.entries.first { $0.path == "images/photo.png" }!
        #expect(try sha256(of: mount.path(big.path)) == big.sha256)
        #expect(try sha256(of: mount.path(photo.path)) == photo.sha256)
        let after = try PrometheusText(contentsOfFile: mount.path(".zodbfs/stats"))
        #expect(after.problems.isEmpty, "\(after.problems)")
        func grew(_ name: String) -> Double { (after.value(name) ?? 0) - (before.value(name) ?? 0) }
        #expect(grew("zodbfs_read_total") >= 2)
        #expect(grew("zodbfs_read_bytes_total") >= Double(big.size! + photo.size!), "\(grew("zodbfs_read_bytes_total"))")
        #expect(grew("zodbfs_open_total") >= 2)
        #expect(grew("zodbfs_lookups_total") >= 2)
        #expect(grew("zodbfs_node_cache_hits_total") + grew("zodbfs_node_cache_misses_total") > 0)
        #expect(grew("zodbfs_commits_total") == 0)

        // An open file shows in the gauge while it is open.
        let held = try shell("""
            exec 3< \(quoted(mount.path("docs/readme.txt")))
            cat \(quoted(mount.path(".zodbfs/stats")))
            exec 3<&-
            """).stdout
        let holding = PrometheusText(held)
        #expect(holding.problems.isEmpty, "\(holding.problems)")
        #expect((holding.value("zodbfs_open_handles") ?? 0) >= (after.value("zodbfs_open_handles") ?? 0) + 1)

        // `zodbfs stats --once` summarises the same counters.
        let summary = try runCommand(try TestEnvironment.binary(), ["stats", mount.mountpoint, "--once"], timeout: 60)
        #expect(summary.status == 0 && summary.stdout.contains("bytes read"), "\(summary.stderr)")
        try mount.unmount()
    }

    @Test func statsCommitCountersAndLatencyHistogramMoveWithWrites() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try copyOfFixture(in: scratch, as: "store")
        let mount = try MountedStore(store: store, in: scratch)
        defer { try? mount.unmount() }

        let before = try PrometheusText(contentsOfFile: mount.path(".zodbfs/stats"))
        #expect(before.problems.isEmpty, "\(before.problems)")
        let body = scratch.path("body.bin")
        try Data(pseudoRandomBytes(300_000, seed: 6)).write(to: URL(fileURLWithPath: body))
        try shell("cp \(quoted(body)) \(quoted(mount.path("files/written.bin")))")
        try shell("printf 'hello\\n' > \(quoted(mount.path("docs/hello.txt")))")

        // A commit is acknowledged by close; give the counters a moment all the same.
        var after = try PrometheusText(contentsOfFile: mount.path(".zodbfs/stats"))
        func grew(_ name: String) -> Double { (after.value(name) ?? 0) - (before.value(name) ?? 0) }
        for _ in 0..<50 where grew("zodbfs_commits_total") < 2 {
            usleep(100_000)
            after = try PrometheusText(contentsOfFile: mount.path(".zodbfs/stats"))
        }
        #expect(after.problems.isEmpty, "\(after.problems)")
        #expect(grew("zodbfs_write_total") >= 2)
        #expect(grew("zodbfs_write_bytes_total") >= 300_006, "\(grew("zodbfs_write_bytes_total"))")
        #expect(grew("zodbfs_commits_total") >= 2, "\(grew("zodbfs_commits_total"))")
        #expect(grew("zodbfs_commit_bytes_total") >= 300_006, "\(grew("zodbfs_commit_bytes_total"))")
        #expect(grew("zodbfs_commit_seconds_count") >= 2)
        #expect(grew("zodbfs_commit_seconds_sum") > 0)
        #expect(after.value("zodbfs_commit_seconds_bucket", ["le": "+Inf"]) == after.value("zodbfs_commit_seconds_count"))
        #expect(after.value("zodbfs_commit_seconds_count") == after.value("zodbfs_commits_total"))
        #expect(try sha256(of: mount.path("files/written.bin")) == sha256Hex(try Data(contentsOf: URL(fileURLWithPath: body))))
        try mount.unmount()
    }

    // MARK: - Shared steps

    /// The tree under `copy` holds exactly the mount's files, `.zodbfs/`
    /// aside, with the manifest's bytes (and the mount's bytes for the
    /// rendered objects, which the manifest has no digest of).
    func expectFaithfulCopy(_ copy: String, of mount: MountedStore, entries: [ZopeFixture.Entry]) throws {
        let digests = try WriteMountTests.digests(copy)
        #expect(Set(digests.keys) == Set(entries.map(\.path)),
                "missing \(Set(entries.map(\.path)).subtracting(digests.keys).sorted().prefix(5)), extra \(Set(digests.keys).subtracting(entries.map(\.path)).sorted().prefix(5))")
        var wrong: [String] = []
        for entry in entries {
            let expected = try entry.sha256 ?? sha256(of: mount.path(entry.path))
            if digests[entry.path] != expected { wrong.append(entry.path) }
        }
        #expect(wrong.isEmpty, "\(wrong.count) files differ: \(wrong.prefix(5))")
        let folders = try shell("cd \(quoted(copy)) && find . -mindepth 1 -type d -not -path './.zodbfs*' | wc -l").stdout
        #expect(Int(folders.trimmingCharacters(in: .whitespacesAndNewlines)) == (try TestEnvironment.zopeFixture()).folders.count)
    }

    func copyOfFixture(in scratch: ScratchDirectory, as name: String) throws -> String {
        let fixture = try TestEnvironment.zopeFixture()
        let dir = scratch.path(name)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let copy = dir + "/Data.fs"
        try FileManager.default.copyItem(atPath: fixture.dataFS, toPath: copy)
        try FileManager.default.copyItem(atPath: fixture.index, toPath: copy + ".index")
        return copy
    }

    /// Reads a job's control file until the job is no longer running.
    func waitForJob(_ path: String) -> String {
        var status = ""
        for _ in 0..<600 {
            status = (try? readToEnd(path)) ?? ""
            if status.contains("state: done") || status.contains("state: failed") { break }
            usleep(100_000)
        }
        return status
    }
}

/// The Prometheus text checker itself, on pages known to be good or bad.
@Suite struct PrometheusTextTests {
    @Test func acceptsWellFormedText() {
        let page = PrometheusText("""
            # HELP a_total things
            # TYPE a_total counter
            a_total 3
            # a free comment
            # TYPE b gauge
            b{kind="x",path="a \\"q\\" \\\\ \\n"} -1.5e3 1700000000000
            # TYPE h histogram
            h_bucket{le="0.5"} 1
            h_bucket{le="+Inf"} 2
            h_sum 0.75
            h_count 2

            """)
        #expect(page.problems.isEmpty, "\(page.problems)")
        #expect(page.value("a_total") == 3)
        #expect(page.value("b", ["kind": "x", "path": "a \"q\" \\ \n"]) == -1500)
    }

    @Test(arguments: [
        "a 1",                                            // no final newline
        "a one\n",                                        // not a number
        "1a 1\n",                                         // bad name
        "a{b=\"1\" 1\n",                                  // unclosed labels
        "a{b=1} 1\n",                                     // unquoted label value
        "a 1 2 3\n",                                      // extra field
        "# TYPE a countr\na 1\n",                         // unknown type
        "a 1\n# TYPE a counter\n",                        // TYPE after the sample
        "# TYPE a counter\n# TYPE a counter\na 1\n",      // TYPE twice
        "# TYPE a counter\na -1\n",                       // negative counter
        "a 1\na 2\n",                                     // repeated sample
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", // not cumulative
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",                         // no +Inf
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",                      // count differs
    ])
    func rejectsMalformedText(_ text: String) {
        #expect(!PrometheusText(text).problems.isEmpty, "\(text)")
    }
}

/// The line of /proc/mounts for `mountpoint`.
func mountsLine(_ mountpoint: String) throws -> String {
    let mounts = try String(contentsOfFile: "/proc/mounts", encoding: .utf8)
    return mounts.split(separator: "\n").map(String.init)
        .first { $0.split(separator: " ").dropFirst().first.map(String.init) == mountpoint } ?? ""
}

/// The options field of a /proc/mounts line.
func mountOptions(_ line: String) -> [String] {
    let fields = line.split(separator: " ")
    return fields.count > 3 ? fields[3].split(separator: ",").map(String.init) : []
}

/// The pid `.zodbfs/info` names: the process serving the mount.
func servingPid(_ mountpoint: String) throws -> Int32 {
    let info = try readToEnd(mountpoint + "/.zodbfs/info")
    let line = info.split(separator: "\n").first { $0.hasPrefix("pid: ") }
    return Int32(line.map { String($0.dropFirst(5)) } ?? "") ?? 0
}

/// Whether `pid` is alive: it exists and is not a zombie waiting for a
/// parent that does not reap it.
func processIsRunning(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(after: close)...].split(separator: " ").first
    return state != "Z" && state != "X"
}

func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

/// A control file's content, read to the end of file as `cat` does: their
/// size in `stat` is not their length (made when opened), and just after a
/// command was written to one the kernel goes on reporting the command's
/// length for a while.
func readToEnd(_ path: String) throws -> String {
    try shell("cat \(quoted(path))").stdout
}

func sha256(of path: String) throws -> String {
    let result = try shell("sha256sum < \(quoted(path))")
    return String(result.stdout.prefix(64))
}

/// The binary under test installed as /usr/local/bin/zodbfs, where
/// mount.fuse3 finds it (mount(8) runs mount.fuse3 with a fixed PATH), for
/// the duration of a test. A zodbfs already installed there is moved
/// aside and put back.
final class InstalledBinary {
    static let path = "/usr/local/bin/zodbfs"
    static let aside = "/usr/local/bin/zodbfs.moved-aside-by-test"
    private var installed = false

    init() throws {
        let binary = try TestEnvironment.binary()
        let fileManager = FileManager.default
        // A run that was killed before putting things back: do it now.
        if Self.exists(Self.aside) {
            if Self.exists(Self.path) { try fileManager.removeItem(atPath: Self.path) }
            try fileManager.moveItem(atPath: Self.aside, toPath: Self.path)
        }
        if let target = try? fileManager.destinationOfSymbolicLink(atPath: Self.path), target == binary {
            try fileManager.removeItem(atPath: Self.path)
        } else if Self.exists(Self.path) {
            try fileManager.moveItem(atPath: Self.path, toPath: Self.aside)
        }
        try fileManager.createDirectory(atPath: "/usr/local/bin", withIntermediateDirectories: true)
        try fileManager.createSymbolicLink(atPath: Self.path, withDestinationPath: binary)
        installed = true
    }

    func remove() {
        guard installed else { return }
        installed = false
        try? FileManager.default.removeItem(atPath: Self.path)
        if Self.exists(Self.aside) { try? FileManager.default.moveItem(atPath: Self.aside, toPath: Self.path) }
    }

    deinit { remove() }

    private static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }
}

/// A user made for one test (no home, no login shell) and removed after.
final class ThrowawayUser {
    let name: String
    private var present = false

    init() throws {
        name = "zodbfs-" + String(UUID().uuidString.lowercased().prefix(8))
        try shell("useradd --no-create-home --shell /usr/sbin/nologin --user-group \(name)")
        present = true
    }

    /// Runs a shell command line as the user.
    func run(_ command: String) throws -> CommandResult {
        try runCommand("runuser", ["-u", name, "--", "/bin/sh", "-c", "cd / && " + command], timeout: 120)
    }

    func remove() {
        guard present else { return }
        present = false
        _ = try? runCommand("userdel", [name])
    }

    deinit { remove() }
}

/// A page in the Prometheus text exposition format (version 0.0.4),
/// parsed strictly: every problem found is listed in `problems`.
struct PrometheusText {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var samples: [Sample] = []
    var types: [String: String] = [:]
    var helps: [String: String] = [:]
    var problems: [String] = []

    init(contentsOfFile path: String) throws {
        self.init(try readToEnd(path))
    }

    init(_ text: String) {
        if text.isEmpty { problems.append("empty") }
        if !text.isEmpty && !text.hasSuffix("\n") { problems.append("the last line does not end with a newline") }
        var seenFamilies: [String] = []
        var seenSamples = Set<String>()
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(rawLine)
            let at = "line \(number + 1) \"\(line)\""
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true).map(String.init)
                guard parts.count >= 2, parts[0] == "#", parts[1] == "HELP" || parts[1] == "TYPE" else { continue }
                guard parts.count >= 3, Self.isMetricName(parts[2]) else {
                    problems.append("\(at): no valid metric name")
                    continue
                }
                let name = parts[2]
                if parts[1] == "HELP" {
                    if helps[name] != nil { problems.append("\(at): second HELP for \(name)") }
                    helps[name] = parts.count > 3 ? parts[3] : ""
                } else {
                    guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
                        problems.append("\(at): bad TYPE")
                        continue
                    }
                    if types[name] != nil { problems.append("\(at): second TYPE for \(name)") }
                    if seenFamilies.contains(name) { problems.append("\(at): TYPE after samples of \(name)") }
                    types[name] = parts[3]
                }
                continue
            }
            guard let sample = Self.parseSample(line) else {
                problems.append("\(at): not `name{labels} value [timestamp]`")
                continue
            }
            let key = sample.name + "{" + sample.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "}"
            if !seenSamples.insert(key).inserted { problems.append("\(at): repeated sample \(key)") }
            let family = family(of: sample.name)
            if !seenFamilies.contains(family) { seenFamilies.append(family) }
            if types[family] == "counter" && !(sample.value >= 0) { problems.append("\(at): negative counter") }
            samples.append(sample)
        }
        for (name, type) in types where type == "histogram" { checkHistogram(name) }
        for (name, type) in types where type != "histogram" && type != "summary" && !samples.contains(where: { $0.name == name }) {
            problems.append("\(name): TYPE without a sample")
        }
    }

    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// The metric family a sample belongs to (a histogram's `_bucket`,
    /// `_sum` and `_count` belong to the histogram).
    private func family(of name: String) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if let type = types[base], type == "histogram" || (type == "summary" && suffix != "_bucket") { return base }
        }
        return name
    }

    private mutating func checkHistogram(_ name: String) {
        let buckets = samples.filter { $0.name == name + "_bucket" }
        guard !buckets.isEmpty else {
            problems.append("\(name): histogram without buckets")
            return
        }
        var bounds: [(Double, Double)] = []
        for bucket in buckets {
            guard bucket.labels.keys.contains("le"), let le = bucket.labels["le"], let bound = Self.number(le) else {
                problems.append("\(name): bucket without a numeric le")
                continue
            }
            bounds.append((bound, bucket.value))
        }
        if bounds.map(\.0) != bounds.map(\.0).sorted() { problems.append("\(name): le not ascending") }
        if bounds.last?.0 != .infinity { problems.append("\(name): no +Inf bucket") }
        if bounds.map(\.1) != bounds.map(\.1).sorted() { problems.append("\(name): buckets not cumulative") }
        guard let count = value(name + "_count"), value(name + "_sum") != nil else {
            problems.append("\(name): no _sum or _count")
            return
        }
        if let inf = bounds.last, inf.0 == .infinity, inf.1 != count { problems.append("\(name): +Inf bucket \(inf.1) != count \(count)") }
    }

    static func isMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first else { return false }
        let isStart: (Unicode.Scalar) -> Bool = { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || $0 == "_" || $0 == ":" }
        let isRest: (Unicode.Scalar) -> Bool = { isStart($0) || ("0"..."9").contains($0) }
        return isStart(first) && name.unicodeScalars.dropFirst().allSatisfy(isRest)
    }

    static func isLabelName(_ name: String) -> Bool {
        isMetricName(name) && !name.contains(":")
    }

    /// A sample value: a Go float, `+Inf`, `-Inf` or `NaN`.
    static func number(_ text: String) -> Double? {
        switch text {
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default:
            guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }) else { return nil }
            return Double(text)
        }
    }

    static func parseSample(_ line: String) -> Sample? {
        var rest = Substring(line)
        let nameEnd = rest.firstIndex { $0 == "{" || $0 == " " } ?? rest.endIndex
        let name = String(rest[..<nameEnd])
        guard isMetricName(name) else { return nil }
        rest = rest[nameEnd...]
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                guard let equals = rest.firstIndex(of: "=") else { return nil }
                let label = String(rest[..<equals])
                guard isLabelName(label), labels[label] == nil else { return nil }
                rest = rest[rest.index(after: equals)...]
                guard rest.first == "\"" else { return nil }
                rest = rest.dropFirst()
                var value = ""
                var escaped = false
                while true {
                    guard let character = rest.first else { return nil }
                    rest = rest.dropFirst()
                    if escaped {
                        switch character {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: return nil
                        }
                        escaped = false
                    } else if character == "\\" {
                        escaped = true
                    } else if character == "\"" {
                        break
                    } else {
                        value.append(character)
                    }
                }
                labels[label] = value
                if rest.first == "," { rest = rest.dropFirst() } else if rest.first != "}" { return nil }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " " else { return nil }
        let fields = rest.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count == 1 || fields.count == 2, let value = number(String(fields[0])) else { return nil }
        if fields.count == 2 && Int64(fields[1]) == nil { return nil }
        return Sample(name: name, labels: labels, value: value)
    }
}
