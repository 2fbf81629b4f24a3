import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real `runzeo` from the pinned venv, serving one FileStorage (as
/// storage `1`) on a unix socket or on 127.0.0.1, for tests of the ZEO
/// client and of ZEO mounts. Started in the background and stopped by its
/// PID (``stop()``, also on deinit), so a failing test leaves no server.
public final class ZEOServer: @unchecked Sendable {
    public let dataFS: String
    /// What `--zeo` and `runzeo -a` take: a socket path or `127.0.0.1:PORT`.
    public let address: String
    public let msgpack: Bool
    private let configPath: String
    private let logPath: String
    public private(set) var pid: pid_t = 0

    /// - Parameters:
    ///   - tcp: listen on 127.0.0.1 at a free port instead of a unix socket.
    public init(dataFS: String, in directory: String, tcp: Bool = false, msgpack: Bool = false) throws {
        self.dataFS = dataFS
        self.msgpack = msgpack
        if tcp {
            address = "127.0.0.1:\(try Self.freePort())"
        } else {
            address = directory + "/zeo.sock"
        }
        configPath = directory + "/zeo.conf"
        logPath = directory + "/zeo.log"
        let config = """
        <zeo>
          address \(address)
          msgpack \(msgpack ? "true" : "false")
          invalidation-queue-size 1000
        </zeo>
        <filestorage 1>
          path \(dataFS)
        </filestorage>
        <eventlog>
          level INFO
          <logfile>
            path \(logPath)
          </logfile>
        </eventlog>

        """
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        try start()
    }

    deinit { stop() }

    /// Starts the server and waits until it accepts connections.
    public func start() throws {
        let runzeo = URL(fileURLWithPath: try TestEnvironment.python()).deletingLastPathComponent().appendingPathComponent("runzeo").path
        if !address.contains(":") { unlink(address) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath + ".out", O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, logPath + ".out", O_WRONLY | O_CREAT | O_APPEND, 0o600)
        let argv = [runzeo, "-C", configPath]
        var cArgv = argv.map { strdup($0) } + [nil]
        defer { cArgv.forEach { free($0) } }
        var cEnv = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { cEnv.forEach { free($0) } }
        // The test runner's threads block signals, and a spawned child
        // inherits the mask: unblock them, or SIGTERM would not stop it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        var child: pid_t = 0
        let spawned = posix_spawn(&child, runzeo, &actions, &attributes, &cArgv, &cEnv)
        guard spawned == 0 else {
            throw TestEnvironment.Missing(description: "cannot run \(runzeo): \(String(cString: strerror(spawned)))")
        }
        pid = child
        let deadline = Date().addingTimeInterval(30)
        while !accepts() {
            var status: Int32 = 0
            if waitpid(child, &status, WNOHANG) == child {
                pid = 0
                throw TestEnvironment.Missing(description: "runzeo exited: \(log())")
            }
            if Date() > deadline {
                stop()
                throw TestEnvironment.Missing(description: "runzeo did not listen within 30 s: \(log())")
            }
            usleep(50_000)
        }
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s) and reaps it.
    public func stop(signal: Int32 = SIGTERM) {
        guard pid > 0 else { return }
        kill(pid, signal)
        var status: Int32 = 0
        for _ in 0..<200 {
            if waitpid(pid, &status, WNOHANG) == pid {
                pid = 0
                return
            }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
        pid = 0
    }

    /// The server's log, for failure messages.
    public func log() -> String {
        ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")
            + ((try? String(contentsOfFile: logPath + ".out", encoding: .utf8)) ?? "")
    }

    private func accepts() -> Bool {
        if let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            return withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, byte) in address.utf8.prefix(raw.count - 1).enumerated() { raw[i] = byte }
        }
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
    }

    /// A port nothing listens on now (bound to port 0 and released).
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw TestEnvironment.Missing(description: "no free port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
