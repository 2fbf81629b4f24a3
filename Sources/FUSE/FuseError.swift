#if canImport(Glibc)
import Glibc
#endif

/// Why a mount, the session loop or an unmount failed. `description` is one
/// line meant for the person who typed the command: what failed, on which
/// path, and what the system said.
public struct FuseError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// A `MountConfiguration` value is out of range.
        case invalidConfiguration
        /// The mountpoint (or a directory on the way to it) does not exist.
        case mountpointMissing
        /// The mountpoint is not a directory.
        case mountpointNotDirectory
        /// Something is already mounted there, or it is in use.
        case mountpointBusy
        /// A FUSE mount whose daemon is gone ("Transport endpoint is not connected").
        case mountpointStale
        /// The mountpoint cannot be examined (permissions, I/O error).
        case mountpointInaccessible
        /// `/dev/fuse` is missing or cannot be opened.
        case deviceUnavailable
        /// The kernel or `fusermount3` refused the mount or unmount.
        case notPermitted
        /// libfuse rejected the options (`fuse_session_new` failed).
        case invalidOptions
        /// The mount system call failed for another reason.
        case mountFailed
        /// The session loop stopped with an error.
        case sessionFailed
        /// Nothing is mounted at the path (unmount), or the session is no longer mounted (run).
        case notMounted
        /// An unmount failed for another reason.
        case unmountFailed
    }

    public var code: Code
    /// The mountpoint concerned, when there is one.
    public var path: String?
    /// The errno behind the failure, when one is known.
    public var errno: Int32?
    /// What libfuse or a helper printed about it, when anything.
    public var detail: String?

    public init(_ code: Code, path: String? = nil, errno: Int32? = nil, detail: String? = nil) {
        self.code = code
        self.path = path
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        let at = path.map { " \($0)" } ?? ""
        var line: String
        switch code {
        case .invalidConfiguration: line = "invalid mount configuration"
        case .mountpointMissing: line = "cannot mount on\(at): no such directory"
        case .mountpointNotDirectory: line = "cannot mount on\(at): not a directory"
        case .mountpointBusy: line = "mountpoint\(at) is busy"
        case .mountpointStale:
            line = "mountpoint\(at) is a stale FUSE mount (transport endpoint is not connected); run `zodbfs unmount\(at)` first"
        case .mountpointInaccessible: line = "cannot use mountpoint\(at)"
        case .deviceUnavailable:
            line = "/dev/fuse is not available: load the fuse kernel module (modprobe fuse) or give the container the device"
        case .notPermitted:
            line = "not permitted to mount or unmount\(at): needs root, or a usable /dev/fuse and the set-uid fusermount3 (package fuse3)"
        case .invalidOptions: line = "libfuse rejected the mount options"
        case .mountFailed: line = "mount on\(at) failed"
        case .sessionFailed: line = "the FUSE session on\(at) stopped with an error"
        case .notMounted: line = "nothing is mounted on\(at)"
        case .unmountFailed: line = "unmount of\(at) failed"
        }
        if let detail, !detail.isEmpty { line += ": \(detail)" }
        if let errno { line += " (\(String(cString: strerror(errno))))" }
        return line
    }
}
