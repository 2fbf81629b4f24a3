import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Running a mount in the background the safe way: instead of `fork()` in a
/// process that already has threads, the command starts itself again with
/// `--foreground` in a new session and waits on a pipe until the child says
/// the mount is live — or why it failed — so `zodbfs mount` exits non-zero
/// on failure and returns only when the mount can be used.
enum Daemon {
    static let readyVariable = "ZODBFS_READY_FD"
    /// glibc's POSIX_SPAWN_SETSID (spawn.h, behind _GNU_SOURCE, so not imported).
    static let spawnSetSID: Int16 = 0x80

    /// The pipe to the waiting parent, in the child.
    static var readyDescriptor: Int32? {
        ProcessInfo.processInfo.environment[readyVariable].flatMap(Int32.init)
    }

    static func spawnAndWait(arguments: [String]) throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw CommandFailure("pipe: \(String(cString: strerror(errno)))") }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        let childFD: Int32 = 3
        closeOnExec(except: [writeEnd])

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, childFD)
        if writeEnd != childFD { posix_spawn_file_actions_addclose(&actions, writeEnd) }
        if readEnd != childFD { posix_spawn_file_actions_addclose(&actions, readEnd) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, spawnSetSID)

        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let argv = [executable] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment[readyVariable] = String(childFD)
        let envp = environment.map { "\($0.key)=\($0.value)" }

        var pid: pid_t = 0
        let status = withCStrings(argv) { cArgv in
            withCStrings(envp) { cEnv in
                posix_spawn(&pid, executable, &actions, &attributes, cArgv, cEnv)
            }
        }
        close(writeEnd)
        guard status == 0 else {
            close(readEnd)
            throw CommandFailure("cannot start the mount process: \(String(cString: strerror(status)))")
        }
        var message: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        // One line answers: "ready", or why the mount failed. EOF without
        // one means the child died first.
        while !message.contains(UInt8(ascii: "\n")) {
            let n = read(readEnd, &buffer, buffer.count)
            if n > 0 { message += buffer[0..<n] } else if n < 0 && errno == EINTR { continue } else { break }
        }
        close(readEnd)
        let text = String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text == "ready" { return }
        var exitStatus: Int32 = 0
        waitpid(pid, &exitStatus, 0)
        throw CommandFailure(text.isEmpty ? "the mount process exited before the mount was live" : text)
    }

    /// Marks every descriptor this process holds, but `keep` and stdio, as
    /// close-on-exec, so the long-lived child inherits none of them: a
    /// caller waiting for our pipes or sockets to close must see them close
    /// when this process exits, not when the mount ends.
    private static func closeOnExec(except keep: Set<Int32>) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
        for name in names {
            guard let fd = Int32(name), fd > 2, !keep.contains(fd) else { continue }
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    static func reportReady() {
        send("ready\n")
    }

    static func reportFailure(_ message: String) {
        send(message + "\n")
    }

    private static func send(_ text: String) {
        guard let fd = readyDescriptor else { return }
        var bytes = Array(text.utf8)
        _ = write(fd, &bytes, bytes.count)
        close(fd)
        unsetenv(readyVariable)
    }

    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        var pointers = strings.map { strdup($0) }
        pointers.append(nil)
        defer { pointers.forEach { free($0) } }
        return body(pointers)
    }
}
