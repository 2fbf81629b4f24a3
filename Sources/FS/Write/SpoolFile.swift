#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// The uncommitted body of one open file: a sparse temporary file in the
/// same byte positions as the file itself, so a write is one `pwrite` and a
/// commit can copy ranges of it into Data.fs with `copy_file_range` — the
/// body never passes through memory.
///
/// The file is created with `O_TMPFILE`: it has no name, so a crash or a
/// `kill -9` cannot leak it; closing the descriptor frees its blocks.
final class SpoolFile: Sendable {
    let descriptor: FileDescriptor
    let directory: String

    init(descriptor: FileDescriptor, directory: String) {
        self.descriptor = descriptor
        self.directory = directory
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(FSError) {
        do {
            _ = try descriptor.writeAll(toAbsoluteOffset: Int64(offset), bytes)
        } catch {
            throw FSError.spoolFailed(operation: "write", errno: (error as? Errno ?? .ioError).rawValue)
        }
    }

    func read(at offset: UInt64, count: Int) throws(FSError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n: Int
            do {
                n = try bytes.withUnsafeMutableBytes { buffer in
                    try descriptor.read(fromAbsoluteOffset: Int64(offset) + Int64(done),
                                        into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
                }
            } catch {
                throw FSError.spoolFailed(operation: "read", errno: (error as? Errno ?? .ioError).rawValue)
            }
            // Past the spool's end is a hole the file never wrote: zeros.
            if n == 0 { break }
            done += n
        }
        return bytes
    }

    func truncate(to size: UInt64) throws(FSError) {
        do {
            try descriptor.resize(to: Int64(size))
        } catch {
            throw FSError.spoolFailed(operation: "truncate", errno: (error as? Errno ?? .ioError).rawValue)
        }
    }

    func close() {
        try? descriptor.close()
    }
}

/// `<Data.fs>.spool/`, beside the store so spooled bodies and Data.fs share
/// a filesystem (in-kernel copies at commit, one free-space pool to watch).
///
/// Spool files have no names (``SpoolFile``). Where `O_TMPFILE` is not
/// supported a named file is created and unlinked at once, and a crash
/// between the two is what the start-up cleaning removes.
struct SpoolDirectory: Sendable {
    let path: String

    /// Creates the folder if needed and removes whatever an earlier run left.
    init(path: String) throws(FSError) {
        self.path = path
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw FSError.spoolFailed(operation: "mkdir \(path)", errno: errno)
        }
        if let dir = opendir(path) {
            defer { closedir(dir) }
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name != "." && name != ".." { unlink(path + "/" + name) }
            }
        }
    }

    func makeFile() throws(FSError) -> SpoolFile {
        // O_TMPFILE is `__O_TMPFILE | O_DIRECTORY`, a macro Swift does not import.
        let tmpfile: Int32 = 0o20_000_000 | O_DIRECTORY
        var fd = Glibc.open(path, tmpfile | O_RDWR | O_CLOEXEC, 0o600)
        if fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) {
            var template = Array((path + "/spool.XXXXXX").utf8CString)
            fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            if fd >= 0 { template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) } }
        }
        guard fd >= 0 else {
            throw FSError.spoolFailed(operation: "create in \(path)", errno: errno)
        }
        return SpoolFile(descriptor: FileDescriptor(rawValue: fd), directory: path)
    }
}
