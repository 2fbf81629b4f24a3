#if canImport(Glibc)
import Glibc
#endif

/// The directory a session mounts on, checked before libfuse tries, so that
/// each way a mount commonly fails gets its own clear `FuseError`.
struct Mountpoint {
    /// Absolute, with symbolic links resolved: the form `/proc/self/mountinfo` shows.
    let path: String
    /// `st_dev` of the directory itself, before anything is mounted on it.
    let device: dev_t

    /// Resolves and checks `path`: it must be an existing directory that is
    /// not already a mount point and not a stale FUSE mount. Non-empty
    /// directories are accepted, as libfuse 3 does.
    static func resolve(_ path: String) throws(FuseError) -> Mountpoint {
        guard let resolved = realpath(path, nil) else {
            throw failure(path, errno)
        }
        let absolute = String(cString: resolved)
        free(resolved)

        var status = stat()
        guard stat(absolute, &status) == 0 else { throw failure(path, errno) }
        guard status.st_mode & S_IFMT == S_IFDIR else { throw FuseError(.mountpointNotDirectory, path: path) }

        if let existing = MountTable.current().first(where: { $0.mountPoint == absolute }) {
            throw FuseError(.mountpointBusy, path: path,
                            detail: "\(existing.type) from \(existing.source) is already mounted there; unmount it first")
        }
        return Mountpoint(path: absolute, device: status.st_dev)
    }

    /// Checks that `/dev/fuse` exists and, as root, opens. Other users mount
    /// through the set-uid `fusermount3`, which opens it for them.
    static func checkDevice() throws(FuseError) {
        let device = "/dev/fuse"
        if geteuid() == 0 {
            let descriptor = open(device, O_RDWR | O_CLOEXEC)
            guard descriptor >= 0 else { throw FuseError(.deviceUnavailable, errno: errno) }
            close(descriptor)
        } else if access(device, F_OK) != 0 {
            throw FuseError(.deviceUnavailable, errno: errno)
        }
    }

    private static func failure(_ path: String, _ error: Int32) -> FuseError {
        switch error {
        case ENOENT: FuseError(.mountpointMissing, path: path)
        case ENOTDIR: FuseError(.mountpointNotDirectory, path: path)
        case ENOTCONN: FuseError(.mountpointStale, path: path)
        default: FuseError(.mountpointInaccessible, path: path, errno: error)
        }
    }
}

/// The mounts of this process's mount namespace, from `/proc/self/mountinfo`.
enum MountTable {
    struct Entry {
        let mountPoint: String
        let type: String
        let source: String
    }

    static func current() -> [Entry] {
        guard let text = readFile("/proc/self/mountinfo") else { return [] }
        return text.split(separator: "\n").compactMap { line in
            // id parent major:minor root mount-point options [optional...] - type source super-options
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count > 4, let dash = fields.firstIndex(of: "-"), dash + 2 < fields.count else { return nil }
            return Entry(mountPoint: unescape(fields[4]), type: String(fields[dash + 1]),
                         source: unescape(fields[dash + 2]))
        }
    }

    /// mountinfo writes space, tab, newline and backslash as `\ooo` octal.
    static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        let utf8 = Array(field.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count,
               let value = UInt8(String(decoding: utf8[(index + 1)...(index + 3)], as: UTF8.self), radix: 8) {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func readFile(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            contents += chunk[..<count]
        }
        return String(decoding: contents, as: UTF8.self)
    }
}
