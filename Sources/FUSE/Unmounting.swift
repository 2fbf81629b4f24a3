#if canImport(Glibc)
import Glibc
#endif

extension FuseSession {
    /// Unmounts whatever FUSE filesystem is mounted on `mountpoint`, the way
    /// `fusermount3 -u` does: as root with `umount2(path, 0)` (also clears a
    /// stale mount whose daemon died), otherwise by running `fusermount3 -u`.
    /// The running session then sees its connection end, unmounts its side
    /// and returns from `run()`.
    ///
    /// - Throws: `FuseError` if nothing is mounted there, it is still in use
    ///   (open files, a shell's working directory), or the unmount is refused.
    public static func unmount(_ mountpoint: String) throws(FuseError) {
        if geteuid() == 0 {
            guard umount2(mountpoint, 0) != 0 else { return }
            let error = errno
            switch error {
            case EINVAL: throw FuseError(.notMounted, path: mountpoint)
            case ENOENT: throw FuseError(.mountpointMissing, path: mountpoint)
            case EBUSY: throw FuseError(.mountpointBusy, path: mountpoint, detail: "files on it are still in use")
            case EPERM: throw FuseError(.notPermitted, path: mountpoint, errno: error)
            default: throw FuseError(.unmountFailed, path: mountpoint, errno: error)
            }
        }
        try runFusermount(["-u", mountpoint], path: mountpoint)
    }

    /// Runs `fusermount3` (looked up in PATH) and waits for it; it prints its
    /// own reason on failure.
    private static func runFusermount(_ arguments: [String], path: String) throws(FuseError) {
        var argv = (["fusermount3"] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        argv.append(nil)
        var pid = pid_t()
        let spawned = argv.withUnsafeMutableBufferPointer { argv in
            guard let argv = argv.baseAddress else { return EINVAL }
            return posix_spawnp(&pid, "fusermount3", nil, nil, argv, environ)
        }
        guard spawned == 0 else {
            throw FuseError(spawned == ENOENT ? .notPermitted : .unmountFailed, path: path,
                            errno: spawned, detail: "cannot run fusermount3")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        // WIFEXITED && WEXITSTATUS == 0, spelled out: the macros do not import.
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw FuseError(.unmountFailed, path: path, detail: "fusermount3 -u failed")
        }
    }
}
