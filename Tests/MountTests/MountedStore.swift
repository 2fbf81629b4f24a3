import Foundation
import TestSupport

/// A real zodbfs mount of a Data.fs, made with the CLI the way a user
/// makes one (`zodbfs mount STORE MOUNTPOINT`, which returns once the mount
/// is live) and taken down with `zodbfs unmount`.
final class MountedStore {
    let mountpoint: String
    let store: String
    private let binary: String
    private var mounted = false

    /// FUSE needs /dev/fuse and the right to mount; under CI both are
    /// required, so a mount test never passes by being skipped there.
    static var available: Bool {
        TestEnvironment.isCI || (access("/dev/fuse", R_OK | W_OK) == 0 && getuid() == 0)
    }

    convenience init(store: String, in scratch: ScratchDirectory, arguments: [String] = []) throws {
        try self.init(mounting: [store], store: store, in: scratch, arguments: arguments)
    }

    /// A mount of the storage a ZEO server serves (`zodbfs mount --zeo ADDRESS MOUNTPOINT`).
    convenience init(zeo address: String, in scratch: ScratchDirectory, arguments: [String] = []) throws {
        try self.init(mounting: ["--zeo", address], store: address, in: scratch, arguments: arguments)
    }

    private init(mounting source: [String], store: String, in scratch: ScratchDirectory, arguments: [String]) throws {
        self.store = store
        binary = try TestEnvironment.binary()
        mountpoint = scratch.path("mnt")
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
        let result = try runCommand(binary, ["mount"] + source + [mountpoint] + arguments, timeout: 60)
        guard result.status == 0 else {
            throw TestEnvironment.Missing(description: "mount failed (\(result.status)): \(result.stderr)")
        }
        mounted = true
    }

    func path(_ relative: String) -> String { mountpoint + "/" + relative }

    /// A control file's `key: value` lines (`.zodbfs/NAME`), read as `cat`
    /// reads them: to the end of the file, whatever size `stat` reports (the
    /// text is made at open; after a command was written, the kernel's idea
    /// of the size is that command's length).
    func controlStatus(_ name: String) throws -> [String: String] {
        let text = try shell("cat \(quoted(path(".zodbfs/" + name)))").stdout
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    static func isMounted(_ mountpoint: String) -> Bool {
        let mounts = (try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? ""
        return mounts.split(separator: "\n").contains { $0.split(separator: " ").dropFirst().first.map(String.init) == mountpoint }
    }

    func unmount() throws {
        guard mounted else { return }
        mounted = false
        // A file just closed can keep the mount busy for a moment (the
        // kernel finishing a read-ahead): retry for a few seconds, as a
        // user would.
        var result = try runCommand(binary, ["unmount", mountpoint], timeout: 30)
        for _ in 0..<50 where result.status != 0 && result.stderr.contains("still in use") {
            usleep(100_000)
            result = try runCommand(binary, ["unmount", mountpoint], timeout: 30)
        }
        guard result.status == 0 else {
            throw TestEnvironment.Missing(description: "unmount failed: \(result.stderr)")
        }
        for _ in 0..<200 where Self.isMounted(mountpoint) { usleep(10_000) }
    }

    deinit {
        if mounted { _ = try? runCommand("umount", ["-l", mountpoint]) }
    }
}

/// Runs a shell command line and returns its stdout, failing on a non-zero exit.
@discardableResult
func shell(_ command: String, allowFailure: Bool = false) throws -> CommandResult {
    let result = try runCommand("/bin/bash", ["-c", command], timeout: 600)
    if !allowFailure && result.status != 0 {
        throw TestEnvironment.Missing(description: "`\(command)` failed (\(result.status)): \(result.stderr)")
    }
    return result
}

func quoted(_ path: String) -> String { "'" + path.replacingOccurrences(of: "'", with: "'\\''") + "'" }

/// A shell line that starts, in the background, a stream of small files
/// written into `folder` (`PREFIXROUND-I.txt`, content `round ROUND file I`),
/// each named in `log` — on the local disk — only after its close returned,
/// so the log lists exactly the acknowledged files. It stops at the first
/// error (the mount went away).
func acknowledgedWriter(into folder: String, round: Int, prefix: String, log: String, pause: Double = 0) -> String {
    """
    python3 - \(quoted(folder)) \(round) \(quoted(log)) <<'PY' &
    import os, sys, time
    folder, rnd, log = sys.argv[1], sys.argv[2], open(sys.argv[3], 'a')
    for i in range(1, 100000):
        name = '\(prefix)%s-%d.txt' % (rnd, i)
        try:
            fd = os.open(os.path.join(folder, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, b'round %s file %d\\n' % (rnd.encode(), i))
            os.close(fd)
        except OSError:
            break
        log.write(name + '\\n'); log.flush()
        time.sleep(\(pause))
    PY
    """
}
