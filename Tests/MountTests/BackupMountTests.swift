import Foundation
import TestSupport
import Testing

/// Backups of a live mount through `.zodbfs/backup` (mounted with
/// `--backup-dir`) and `zodbfs backup MOUNTPOINT`, while commits go on
/// through the mount; what they wrote is restored by the real repozo and
/// checked by ZODB and Zope (`verify_store.py`).
@Suite(.serialized, .enabled(if: MountedStore.available)) struct BackupMountTests {
    static func status(_ mount: MountedStore) throws -> [String: String] {
        try mount.controlStatus("backup")
    }

    /// Polls the status until no backup runs.
    static func waitForBackup(_ mount: MountedStore, timeout: Double = 600) throws -> [String: String] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let status = try status(mount)
            if status["state"] != "running" || Date() > deadline { return status }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// The numbers `n` of the `during-n.txt` files a restored store holds,
    /// checked to be a prefix of the commits that wrote them: `1...k`, each
    /// whole — except that the last may still be empty, as the file's
    /// creation is a commit of its own, before its content's.
    static func duringFiles(_ report: StoreVerification) -> [Int] {
        var contents: [Int: String?] = [:]
        for entry in report.entries where entry.path.hasPrefix("docs/during-") {
            contents[Int(entry.path.dropFirst("docs/during-".count).dropLast(".txt".count)) ?? -1] = entry.sha256
        }
        let numbers = contents.keys.sorted()
        #expect(numbers == Array(1..<(numbers.count + 1)), "a prefix: \(numbers)")
        for number in numbers {
            let whole = contents[number] == sha256Hex(Array("during \(number)\n".utf8))
            let empty = contents[number] == sha256Hex([UInt8]())
            #expect(whole || (empty && number == numbers.last), "during-\(number).txt is whole")
        }
        return numbers
    }

    @Test func aBackupWhileCommitsRunRestoresToAPrefixOfThem() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try WriteMountTests.copyOfFixture(in: scratch)
        let repository = scratch.path("repo")
        try FileManager.default.createDirectory(atPath: repository, withIntermediateDirectories: true)
        let mount = try MountedStore(store: store, in: scratch, arguments: ["--backup-dir", repository])
        defer { try? mount.unmount() }
        // About 80 MB of text that gzip compresses slowly, so the backup runs long enough to be watched.
        try shell("head -c \(60 << 20) /dev/urandom | base64 > \(quoted(mount.path("big.txt")))")
        let control = quoted(mount.path(".zodbfs/backup"))
        let log = scratch.path("acknowledged.log")
        try shell("touch \(quoted(log))")
        // Commits through the mount; each number is logged once its close (the commit) returned.
        let writer = try shell("""
            (for i in $(seq 1 400); do printf 'during %d\\n' $i > \(quoted(mount.path("docs")))/during-$i.txt || exit 1; \
            echo $i >> \(quoted(log)); done) > /dev/null 2>&1 &
            echo $!
            """).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        while (try String(contentsOfFile: log, encoding: .utf8)).split(separator: "\n").count < 20 { Thread.sleep(forTimeInterval: 0.02) }
        let acknowledgedBefore = (try String(contentsOfFile: log, encoding: .utf8)).split(separator: "\n").count
        try shell("echo 'full gzip' > \(control)")
        // One at a time.
        let busy = try shell("echo incremental > \(control)", allowFailure: true)
        #expect(busy.status != 0 && busy.stderr.contains("busy"), "\(busy.stderr)")
        let running = try Self.status(mount)
        #expect(running["state"] == "running" && running["command"] == "full gzip", "\(running)")
        #expect(running["refused"]?.contains("running") == true)
        #expect(running["phase"] != nil && running["done_bytes"] != nil && running["total_bytes"] != nil)
        let done = try Self.waitForBackup(mount)
        #expect(done["state"] == "done" && done["last_kind"] == "full", "\(done)")
        #expect(done["last_file"]?.hasSuffix(".fsz") == true)
        let fullStamp = String((done["last_file"] ?? "").split(separator: "/").last?.prefix(19) ?? "")
        try shell("while kill -0 \(writer) 2>/dev/null; do sleep 0.05; done")
        #expect((try String(contentsOfFile: log, encoding: .utf8)).split(separator: "\n").count == 400)

        // The CLI drives the same file: an increment with everything since.
        let cli = try shell("\(quoted(try TestEnvironment.binary())) backup \(quoted(mount.mountpoint))")
        #expect(cli.stdout.contains("incremental backup"), "\(cli.stdout) \(cli.stderr)")
        let wrong = try shell("\(quoted(try TestEnvironment.binary())) backup \(quoted(mount.mountpoint)) --repository \(quoted(scratch.path("elsewhere")))",
                              allowFailure: true)
        #expect(wrong.status != 0 && wrong.stderr.contains("backs up into"), "\(wrong.stderr)")
        let writtenAtEnd = try shell("sha256sum \(quoted(mount.path("big.txt"))) | cut -c1-64").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try mount.unmount()

        // The full backup holds a prefix of the commits: every one acknowledged
        // before the command, none missing in between, each file whole.
        let atFull = scratch.path("at-full.fs")
        let restored = try runCommand(try TestEnvironment.python(), ["-m", "ZODB.scripts.repozo", "-R", "-r", repository, "-D", fullStamp, "-o", atFull])
        #expect(restored.status == 0, "\(restored.stderr)")
        let early = try StoreVerification(dataFS: atFull)
        #expect(early.problems == [])
        let numbers = Self.duringFiles(early)
        #expect(numbers.count >= acknowledgedBefore && numbers.count < 400, "\(numbers.count) of 400, \(acknowledgedBefore) acknowledged before")
        #expect(early["big.txt"]?.sha256 == writtenAtEnd)

        // The newest state, restored by zodbfs, holds them all, and is the store.
        let latest = scratch.path("latest.fs")
        let ours = try runCommand(try TestEnvironment.binary(), ["restore", "--repository", repository, "--output", latest])
        #expect(ours.status == 0 && ours.stdout.contains("installed the backup's index"), "\(ours.stdout) \(ours.stderr)")
        let report = try StoreVerification(dataFS: latest)
        #expect(report.problems == [])
        #expect(Self.duringFiles(report) == Array(1...400))
        #expect(try shell("cmp \(quoted(latest)) \(quoted(store))").status == 0)
        // So does repozo's restore of the increment the mount wrote.
        let latestByRepozo = scratch.path("latest-repozo.fs")
        let byRepozo = try runCommand(try TestEnvironment.python(), ["-m", "ZODB.scripts.repozo", "-R", "-r", repository, "-o", latestByRepozo])
        #expect(byRepozo.status == 0, "\(byRepozo.stderr)")
        #expect(try shell("cmp \(quoted(latestByRepozo)) \(quoted(store))").status == 0)
        let verify = try runCommand(try TestEnvironment.binary(), ["backup", "--verify", "--repository", repository])
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(try runCommand(try TestEnvironment.python(), ["-m", "ZODB.scripts.repozo", "-V", "-r", repository]).status == 0)
    }

    @Test func withoutABackupDirectoryTheCommandIsRefusedAndTheStatusSaysWhy() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try WriteMountTests.copyOfFixture(in: scratch)
        let mount = try MountedStore(store: store, in: scratch)
        defer { try? mount.unmount() }
        let refused = try shell("echo full > \(quoted(mount.path(".zodbfs/backup")))", allowFailure: true)
        #expect(refused.status != 0 && refused.stderr.contains("Invalid argument"), "\(refused.stderr)")
        #expect(try Self.status(mount)["reason"]?.contains("--backup-dir") == true)
        let cli = try shell("\(quoted(try TestEnvironment.binary())) backup \(quoted(mount.mountpoint))", allowFailure: true)
        #expect(cli.status != 0 && cli.stderr.contains("--backup-dir"), "\(cli.stderr)")
    }

    @Test func badCommandsAndAnImpossibleIncrementAreReported() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try WriteMountTests.copyOfFixture(in: scratch)
        let repository = scratch.path("repo")
        try FileManager.default.createDirectory(atPath: repository, withIntermediateDirectories: true)
        let mount = try MountedStore(store: store, in: scratch, arguments: ["--backup-dir", repository])
        defer { try? mount.unmount() }
        #expect(try Self.status(mount)["state"] == "idle")
        let bad = try shell("echo 'full /var/backups' > \(quoted(mount.path(".zodbfs/backup")))", allowFailure: true)
        #expect(bad.status != 0 && bad.stderr.contains("Invalid argument"))
        #expect(try Self.status(mount)["refused"]?.contains("unknown command") == true)
        // An increment into an empty repository fails, and says so.
        let cli = try shell("\(quoted(try TestEnvironment.binary())) backup \(quoted(mount.mountpoint)) --incremental", allowFailure: true)
        #expect(cli.status != 0 && cli.stderr.contains("full"), "\(cli.stderr)")
        let failed = try Self.status(mount)
        #expect(failed["state"] == "failed" && failed["last_error"]?.contains("full") == true, "\(failed)")
        // --repository naming the same folder another way is fine; --quick passes through.
        let full = try shell("\(quoted(try TestEnvironment.binary())) backup \(quoted(mount.mountpoint)) --full --repository \(quoted(repository + "/."))")
        #expect(full.stdout.contains("full backup"), "\(full.stdout)")
        try shell("echo 'more' > \(quoted(mount.path("docs/more.txt")))")
        let quick = try shell("\(quoted(try TestEnvironment.binary())) backup \(quoted(mount.mountpoint)) --quick")
        #expect(quick.stdout.contains("incremental backup"), "\(quick.stdout)")
        let last = try Self.status(mount)
        #expect(last["last_command"] == "auto quick", "\(last)")
    }

    @Test func aReadOnlyMountIsBackedUpByTheCommandItself() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try WriteMountTests.copyOfFixture(in: scratch)
        let repository = scratch.path("repo")
        try FileManager.default.createDirectory(atPath: repository, withIntermediateDirectories: true)
        let mount = try MountedStore(store: store, in: scratch, arguments: ["--read-only", "--backup-dir", repository])
        defer { try? mount.unmount() }
        // The kernel refuses writes on a read-only mount, control files included.
        let refused = try shell("echo full > \(quoted(mount.path(".zodbfs/backup")))", allowFailure: true)
        #expect(refused.status != 0 && refused.stderr.contains("Read-only"), "\(refused.stderr)")
        // zodbfs backup makes the mount's backup itself: its store, into its repository.
        let cli = try shell("\(quoted(try TestEnvironment.binary())) backup \(quoted(mount.mountpoint)) --gzip")
        #expect(cli.stdout.contains("full backup") && cli.stderr.contains("read-only"), "\(cli.stdout) \(cli.stderr)")
        try mount.unmount()
        let restored = scratch.path("restored.fs")
        let result = try runCommand(try TestEnvironment.python(), ["-m", "ZODB.scripts.repozo", "-R", "-r", repository, "-o", restored])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try shell("cmp \(quoted(restored)) \(quoted(store))").status == 0)
    }

    @Test func unmountingWaitsForTheRunningBackup() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try WriteMountTests.copyOfFixture(in: scratch)
        let repository = scratch.path("repo")
        try FileManager.default.createDirectory(atPath: repository, withIntermediateDirectories: true)
        let mount = try MountedStore(store: store, in: scratch, arguments: ["--backup-dir", repository])
        defer { try? mount.unmount() }
        try shell("head -c \(30 << 20) /dev/urandom | base64 > \(quoted(mount.path("text.txt")))")
        let pid = try WriteMountTests.servingPid(mount)
        try shell("echo 'full gzip' > \(quoted(mount.path(".zodbfs/backup")))")
        #expect(try Self.status(mount)["state"] == "running")
        try mount.unmount()
        try shell("while kill -0 \(pid) 2>/dev/null; do sleep 0.05; done")
        #expect(!FileManager.default.fileExists(atPath: repository + "/tmp.tmp"))
        let verified = try runCommand(try TestEnvironment.python(), ["-m", "ZODB.scripts.repozo", "-V", "-r", repository])
        #expect(verified.status == 0, "\(verified.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: repository).sorted()
        #expect(files.count == 3 && files.contains { $0.hasSuffix(".fsz") }, "\(files)")
    }
}
