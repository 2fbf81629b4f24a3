import Crypto
import Foundation

/// A fresh directory under the system temp folder, removed by `cleanUp`.
public struct ScratchDirectory {
    public let url: URL
    public init(_ label: String = "zodbfs-test") throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    public func cleanUp() { try? FileManager.default.removeItem(at: url) }
}

/// Hex SHA-256, the digest the fixture manifest records.
public func sha256Hex(_ bytes: some Sequence<UInt8>) -> String {
    var hasher = SHA256()
    hasher.update(data: Array(bytes))
    return hasher.finalize().map { String(format: "%02x", $0) }.joined()
}

/// A streaming SHA-256 for files read piecewise.
public struct StreamingSHA256 {
    private var hasher = SHA256()
    public init() {}
    public mutating func update(_ bytes: [UInt8]) { hasher.update(data: bytes) }
    public func hex() -> String { hasher.finalize().map { String(format: "%02x", $0) }.joined() }
}

/// The result of running a command.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var stdoutData: Data
}

/// Runs `executable` with `arguments` and waits; output is captured.
///
/// Spawned directly and reaped with `waitpid`, with output going to
/// temporary files rather than pipes: commands under test daemonize (a
/// mount, nginx), and a daemon that inherits a pipe would keep a reader
/// waiting for an end of file that comes only when the daemon exits.
@discardableResult
public func runCommand(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                       timeout: Double = 300) throws -> CommandResult {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("zodbfs-cmd-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let outPath = scratch.appendingPathComponent("out").path
    let errPath = scratch.appendingPathComponent("err").path

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

    let program = executable.hasPrefix("/") ? executable : "/usr/bin/env"
    let argv = [program] + (executable.hasPrefix("/") ? arguments : [executable] + arguments)
    var env = ProcessInfo.processInfo.environment
    if let environment { env.merge(environment) { _, new in new } }
    let envp = env.map { "\($0.key)=\($0.value)" }
    var cArgv = argv.map { strdup($0) } + [nil]
    var cEnv = envp.map { strdup($0) } + [nil]
    defer {
        cArgv.forEach { free($0) }
        cEnv.forEach { free($0) }
    }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, program, &actions, nil, &cArgv, &cEnv)
    guard spawned == 0 else {
        throw TestEnvironment.Missing(description: "cannot run \(executable): \(String(cString: strerror(spawned)))")
    }
    var status: Int32 = 0
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { break }
        if r < 0 && errno != EINTR { break }
        if Date() > deadline {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
            break
        }
        usleep(5_000)
    }
    let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    let outData = (try? Data(contentsOf: URL(fileURLWithPath: outPath))) ?? Data()
    let errData = (try? Data(contentsOf: URL(fileURLWithPath: errPath))) ?? Data()
    return CommandResult(status: exitStatus,
                         stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self),
                         stdoutData: outData)
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
public func pseudoRandomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed | 1
    var bytes = [UInt8](repeating: 0, count: count)
    for i in 0..<count {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        bytes[i] = UInt8(truncatingIfNeeded: state)
    }
    return bytes
}
