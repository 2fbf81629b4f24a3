// The system calls of the backup code that swift-system does not wrap:
// listing the repository, locking it, the size of a file, starting a
// thread, pushing written pages to the disk as a copy goes, and syncing a
// folder after a rename. Thin and typed like `Internal/Syscalls.swift`.

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

/// Fsyncs a folder, so that a rename in it survives a crash.
func synchronizeFolder(_ path: String) {
    guard let folder = try? FileDescriptor.open(FilePath(path), .readOnly, options: [.directory, .closeOnExec]) else { return }
    _ = try? folder.synchronize()
    try? folder.close()
}

func unlinkQuietly(_ path: String) { _ = unlink(path) }

func renameFile(_ source: String, _ destination: String) throws(BackupError) {
    guard rename(source, destination) == 0 else { throw Errno(rawValue: errno).backupError(destination, "rename") }
}

extension FileDescriptor {
    /// Starts writing `range` to the disk, after waiting for what was
    /// started before it: a copy then never has more than a few windows of
    /// dirty pages, and the final fsync finds little left to do
    /// (`sync_file_range(WAIT_BEFORE | WRITE)`). Best effort.
    func startWriteback(_ range: Range<UInt64>) {
        _ = syncFileRange?(rawValue, Int64(range.lowerBound), Int64(range.count), syncWaitBefore | syncWrite)
    }

    /// Waits for `range` to be on the disk and drops it from the page cache
    /// (`sync_file_range(WAIT_*)` then `POSIX_FADV_DONTNEED`): backup files
    /// are not read again soon, and the cache is better spent on the store
    /// the mount serves. Best effort.
    func dropWrittenPages(_ range: Range<UInt64>) {
        _ = syncFileRange?(rawValue, Int64(range.lowerBound), Int64(range.count), syncWaitBefore | syncWrite | syncWaitAfter)
        #if os(Linux)
        _ = posix_fadvise(rawValue, off_t(range.lowerBound), off_t(range.count), POSIX_FADV_DONTNEED)
        #endif
    }

    /// Applies or tests a BSD lock (`flock`); false when another holder has it.
    func tryLock(exclusive: Bool) -> Bool {
        while true {
            if flock(rawValue, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0 { return true }
            if errno != EINTR { return false }
        }
    }
}

/// `sync_file_range(2)`, looked up at run time: the C library declares it
/// only under `_GNU_SOURCE`, which the Swift module of libc does not set.
/// Its flags (`linux/fs.h`): wait for writeback already under way, start
/// writeback, wait for it.
private typealias SyncFileRange = @convention(c) (Int32, Int64, Int64, UInt32) -> Int32
private let syncWaitBefore: UInt32 = 1, syncWrite: UInt32 = 2, syncWaitAfter: UInt32 = 4

#if os(Linux)
private let syncFileRange: SyncFileRange? = dlsym(nil, "sync_file_range").map { unsafeBitCast($0, to: SyncFileRange.self) }
#else
private let syncFileRange: SyncFileRange? = nil
#endif

/// Runs `body` on a new detached POSIX thread (Storage has no Foundation);
/// false if the thread could not be made.
func startThread(_ body: @escaping @Sendable () -> Void) -> Bool {
    final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
    let box = Unmanaged.passRetained(Body(body))
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { argument in
        guard let argument else { return nil }
        Unmanaged<Body>.fromOpaque(argument).takeRetainedValue().run()
        return nil
    }, box.toOpaque())
    guard result == 0 else {
        box.release()
        return false
    }
    pthread_detach(thread)
    return true
}
