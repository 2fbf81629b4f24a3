// The system calls of the backup code that swift-system does not wrap:
// listing the repository, locking it, the size of a file; and the shared
// ones of `Internal/Syscalls.swift` (rename, unlink, folder sync) with the
// backup's errors. Thin and typed like that file.

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// `open(2)` for the backup code: a missing file is ``BackupError/missingFile(path:reason:)``.
func openBackupFile(_ path: String, _ mode: FileDescriptor.AccessMode, options: FileDescriptor.OpenOptions = [],
                    permissions: FilePermissions? = nil) throws(BackupError) -> FileDescriptor {
    do {
        return try FileDescriptor.open(FilePath(path), mode, options: options.union(.closeOnExec), permissions: permissions)
    } catch {
        let code = error as? Errno ?? .ioError
        if code == .noSuchFileOrDirectory && !options.contains(.create) {
            throw .missingFile(path: path, reason: "no such file")
        }
        throw code.backupError(path, "open")
    }
}

/// The files we create: `rw-r--r--`, as Python's `open(…, 'wb')` under the usual umask.
let backupFilePermissions: FilePermissions = [.ownerReadWrite, .groupRead, .otherRead]

/// The names in a folder (`os.listdir`).
func folderEntries(_ path: String) throws(BackupError) -> [String] {
    guard let directory = opendir(path) else { throw Errno(rawValue: errno).backupError(path, "open the repository") }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        names.append(withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        })
    }
    return names
}

/// The size of a file (`os.path.getsize`).
func fileSize(_ path: String) throws(BackupError) -> UInt64 {
    var status = stat()
    guard stat(path, &status) == 0 else {
        let code = Errno(rawValue: errno)
        if code == .noSuchFileOrDirectory { throw .missingFile(path: path, reason: "no such file") }
        throw code.backupError(path, "stat")
    }
    return UInt64(status.st_size)
}

func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

/// A small file, whole (`.dat` files: a line per backup).
func readSmallFile(_ path: String) throws(BackupError) -> [UInt8] {
    let file = try openBackupFile(path, .readOnly)
    defer { try? file.close() }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n: Int
        do { n = try chunk.withUnsafeMutableBytes { try file.read(into: $0) } } catch {
            throw backupError(error, path, "read")
        }
        if n == 0 { return bytes }
        bytes += chunk[0..<n]
    }
}

/// Fsyncs a folder, so that a rename in it survives a crash. Best effort.
func synchronizeFolder(_ path: String) {
    try? systemSynchronizeDirectory(path)
}

func unlinkQuietly(_ path: String) { try? systemUnlink(path) }

func renameFile(_ source: String, _ destination: String) throws(BackupError) {
    do { try systemRename(source, destination) } catch { throw error.backupError(destination, "rename") }
}

extension FileDescriptor {
    /// Applies or tests a BSD lock (`flock`); false when another holder has it.
    func tryLock(exclusive: Bool) -> Bool {
        while true {
            if flock(rawValue, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0 { return true }
            if errno != EINTR { return false }
        }
    }
}
