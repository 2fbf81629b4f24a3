// The system calls the storage engine makes that swift-system does not wrap
// (posix_fadvise, flock, fsync, rename, a positional read loop, positional
// writes, O_DIRECT, ftruncate, copy_file_range, the wall clock, nanosleep), written in
// swift-system's style: thin, typed, `throws(Errno)`, EINTR retried where the
// call can be interrupted. This file and `Monitor.swift` (pthread mutex and
// condition variable) are the only ones of the target that touch libc or
// unsafe pointers.

import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Advice about the expected access pattern, for ``SystemPackage/FileDescriptor/advise(_:offset:length:)``.
///
/// The corresponding C constants are `POSIX_FADV_*`.
struct FileAdvice: RawRepresentable, Hashable, Sendable {
    var rawValue: Int32
    init(rawValue: Int32) { self.rawValue = rawValue }

    #if os(Linux)
    /// The data will be read soon: start reading it into the page cache (`POSIX_FADV_WILLNEED`).
    static var willNeed: FileAdvice { FileAdvice(rawValue: Int32(POSIX_FADV_WILLNEED)) }
    /// The data will be read once, front to back (`POSIX_FADV_SEQUENTIAL`).
    static var sequential: FileAdvice { FileAdvice(rawValue: Int32(POSIX_FADV_SEQUENTIAL)) }
    /// The data will not be needed again: drop it from the page cache
    /// (`POSIX_FADV_DONTNEED`; dirty pages are only dropped once written).
    static var dontNeed: FileAdvice { FileAdvice(rawValue: Int32(POSIX_FADV_DONTNEED)) }
    #else
    static var dontNeed: FileAdvice { FileAdvice(rawValue: 4) }
    static var willNeed: FileAdvice { FileAdvice(rawValue: 3) }
    static var sequential: FileAdvice { FileAdvice(rawValue: 2) }
    #endif
}

/// The operations of `flock(2)`.
struct FileLockOperation: RawRepresentable, Hashable, Sendable {
    var rawValue: Int32
    init(rawValue: Int32) { self.rawValue = rawValue }

    /// An exclusive lock that fails with `EWOULDBLOCK` instead of waiting (`LOCK_EX | LOCK_NB`).
    static var exclusiveNonBlocking: FileLockOperation { FileLockOperation(rawValue: LOCK_EX | LOCK_NB) }
    /// Releases the lock (`LOCK_UN`).
    static var unlock: FileLockOperation { FileLockOperation(rawValue: LOCK_UN) }
}

extension FileDescriptor {
    /// Announces an access pattern for a range of the file. Advisory only.
    ///
    /// The corresponding C function is `posix_fadvise`; on systems without it
    /// this does nothing.
    func advise(_ advice: FileAdvice, offset: UInt64, length: UInt64) throws(Errno) {
        #if os(Linux)
        let result = posix_fadvise(rawValue, off_t(clamping: offset), off_t(clamping: length), advice.rawValue)
        // posix_fadvise returns the error number instead of setting errno.
        if result != 0 { throw Errno(rawValue: result) }
        #endif
    }

    /// Applies or removes a BSD advisory lock on the whole file.
    ///
    /// The corresponding C function is `flock` (not `fcntl` locks: ZODB's
    /// zc.lockfile uses `flock`, and the two kinds do not see each other).
    func lock(_ operation: FileLockOperation) throws(Errno) {
        try retryingInterrupts { flock(rawValue, operation.rawValue) }
    }

    /// Flushes the file's data and metadata to stable storage.
    ///
    /// The corresponding C function is `fsync`.
    func synchronize() throws(Errno) {
        try retryingInterrupts { fsync(rawValue) }
    }

    /// Reads up to `count` bytes at `offset` into `buffer[start...]`, looping over
    /// short reads; returns fewer bytes only at the end of the file.
    ///
    /// The corresponding C function is `pread`, which leaves the file offset
    /// alone, so any number of threads can call this on one descriptor.
    /// Public for the layers above that read a reply's Data.fs ranges.
    public func readFully(
        fromAbsoluteOffset offset: UInt64, count: Int, into buffer: inout [UInt8], at start: Int
    ) throws(Errno) -> Int {
        precondition(count >= 0 && start >= 0 && start + count <= buffer.count)
        var done = 0
        while done < count {
            let n: Int
            do {
                n = try buffer.withUnsafeMutableBytes { raw in
                    try self.read(
                        fromAbsoluteOffset: Int64(offset) + Int64(done),
                        into: UnsafeMutableRawBufferPointer(rebasing: raw[(start + done)..<(start + count)]),
                        retryOnInterrupt: true)
                }
            } catch let error as Errno {
                throw error
            } catch {
                throw Errno.ioError
            }
            if n == 0 { break }
            done += n
        }
        return done
    }
}

extension FileDescriptor {
    /// Writes all of `bytes[range]` at `offset` (see the raw-buffer form).
    func writeFully(toAbsoluteOffset offset: UInt64, _ bytes: [UInt8], _ range: Range<Int>) throws(Errno) {
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count)
        do {
            try bytes.withUnsafeBytes { raw in
                try writeFully(toAbsoluteOffset: offset, UnsafeRawBufferPointer(rebasing: raw[range]))
            }
        } catch let error as Errno {
            throw error
        } catch {
            throw Errno.ioError
        }
    }

    /// Starts writing `range` to the disk, after waiting for what was
    /// started before it: a long copy then never has more than a few
    /// windows of dirty pages, and the final fsync finds little left to do
    /// (`sync_file_range(WAIT_BEFORE | WRITE)`). Not a durability barrier.
    /// Best effort.
    func startWriteback(_ range: Range<UInt64>) {
        _ = syncFileRange?(rawValue, Int64(clamping: range.lowerBound), Int64(clamping: range.count), syncWaitBefore | syncWrite)
    }

    /// Waits for `range` to be on the disk and drops it from the page cache
    /// (`sync_file_range(WAIT_*)` then `POSIX_FADV_DONTNEED`; dirty pages
    /// cannot be dropped): for files written once and not read again soon
    /// (backups, a pack's output), so the cache is spent on the store the
    /// mount serves. Best effort.
    func dropWrittenPages(_ range: Range<UInt64>) {
        _ = syncFileRange?(
            rawValue, Int64(clamping: range.lowerBound), Int64(clamping: range.count), syncWaitBefore | syncWrite | syncWaitAfter)
        try? advise(.dontNeed, offset: range.lowerBound, length: UInt64(range.count))
    }

    /// Turns direct I/O on or off for this open file (`fcntl(F_SETFL)` with
    /// `O_DIRECT`): writes then go from the caller's memory to the disk,
    /// bypassing the page cache, and must be aligned to the device's block
    /// size in offset, length and memory (``directIOAlignment``).
    func setDirectIO(_ enabled: Bool) throws(Errno) {
        #if os(Linux)
        let flags = fcntl(rawValue, F_GETFL)
        guard flags >= 0 else { throw Errno(rawValue: errno) }
        let wanted = enabled ? flags | directIOFlag : flags & ~directIOFlag
        guard fcntl(rawValue, F_SETFL, wanted) == 0 else { throw Errno(rawValue: errno) }
        #else
        if enabled { throw Errno.notSupported }
        #endif
    }

    /// Writes all of `bytes` at `offset`, looping over short writes.
    ///
    /// The corresponding C function is `pwrite`. A write that makes no
    /// progress fails with `EIO` rather than looping forever.
    func writeFully(toAbsoluteOffset offset: UInt64, _ bytes: UnsafeRawBufferPointer) throws(Errno) {
        var done = 0
        while done < bytes.count {
            let n: Int
            do {
                n = try write(
                    toAbsoluteOffset: Int64(offset) + Int64(done), UnsafeRawBufferPointer(rebasing: bytes[done...]),
                    retryOnInterrupt: true)
            } catch let error as Errno {
                throw error
            } catch {
                throw Errno.ioError
            }
            if n <= 0 { throw Errno.ioError }
            done += n
        }
    }

    /// Sets the file's size. The corresponding C function is `ftruncate`.
    func truncate(to size: UInt64) throws(Errno) {
        try retryingInterrupts { ftruncate(rawValue, off_t(clamping: size)) }
    }

    /// Copies `length` bytes from `source` at `sourceOffset` to this file at
    /// `offset`, inside the kernel where it can (`copy_file_range`), else
    /// through `scratch` with `pread`/`pwrite` in chunks of `scratch.count`
    /// bytes, so that no more than that is ever in memory.
    ///
    /// - Returns: the bytes copied; fewer than `length` only when `source`
    ///   ends first.
    func copyRange(
        from source: FileDescriptor, sourceOffset: UInt64, toAbsoluteOffset offset: UInt64, length: Int,
        scratch: inout [UInt8]
    ) throws(Errno) -> Int {
        precondition(length >= 0 && !scratch.isEmpty)
        var done = 0
        var inKernel = copyFileRange != nil
        while done < length {
            if inKernel, let copyFileRange {
                var from = Int64(sourceOffset) + Int64(done)
                var to = Int64(offset) + Int64(done)
                let n = copyFileRange(source.rawValue, &from, rawValue, &to, min(length - done, 1 << 30), 0)
                if n > 0 {
                    done += n
                    continue
                }
                if n == 0 { return done }
                let error = Errno(rawValue: errno)
                if error == .interrupted { continue }
                // Not possible between these two files (another filesystem,
                // a kernel or filesystem without it): copy through memory.
                guard [.improperLink, .invalidArgument, .noFunction, .notSupported, .badFileDescriptor].contains(error)
                else { throw error }
                inKernel = false
                continue
            }
            let chunk = min(length - done, scratch.count)
            let got = try source.readFully(fromAbsoluteOffset: sourceOffset + UInt64(done), count: chunk, into: &scratch, at: 0)
            if got == 0 { return done }
            try writeFully(toAbsoluteOffset: offset + UInt64(done), scratch, 0..<got)
            done += got
        }
        return done
    }
}

/// `copy_file_range(2)`, looked up at run time: the C library declares it
/// only under `_GNU_SOURCE`, which the Swift module of libc does not set.
private typealias CopyFileRange = @convention(c) (
    Int32, UnsafeMutablePointer<Int64>?, Int32, UnsafeMutablePointer<Int64>?, Int, UInt32
) -> Int

/// `syscall(2)` with three integer arguments: C variadic functions are not
/// callable from Swift, and with integer arguments only the call is the same.
private typealias SystemCall = @convention(c) (Int, Int, Int, Int) -> Int

#if os(Linux)
private let systemCall: SystemCall? = dlsym(nil, "syscall").map { unsafeBitCast($0, to: SystemCall.self) }
#else
private let systemCall: SystemCall? = nil
#endif

/// `sync_file_range(2)`, looked up at run time for the same reason. Its
/// flags (`linux/fs.h`): wait for writeback already under way, start
/// writeback, wait for it.
private typealias SyncFileRange = @convention(c) (Int32, Int64, Int64, UInt32) -> Int32
private let syncWaitBefore: UInt32 = 1, syncWrite: UInt32 = 2, syncWaitAfter: UInt32 = 4

#if os(Linux)
private let copyFileRange: CopyFileRange? = dlsym(nil, "copy_file_range")
    .map { unsafeBitCast($0, to: CopyFileRange.self) }
private let syncFileRange: SyncFileRange? = dlsym(nil, "sync_file_range")
    .map { unsafeBitCast($0, to: SyncFileRange.self) }
#else
private let copyFileRange: CopyFileRange? = nil
private let syncFileRange: SyncFileRange? = nil
#endif

/// Offsets, lengths and buffers of direct I/O are multiples of this: the
/// page size, which every block device's logical block size divides.
let directIOAlignment = 4096

/// `O_DIRECT` (`asm-generic/fcntl.h`; ARM's own), which the Swift module of
/// libc does not export.
#if arch(arm64) || arch(arm)
private let directIOFlag: Int32 = 0o200000
#else
private let directIOFlag: Int32 = 0o40000
#endif

/// The wall clock in seconds since the Unix epoch, with its fraction, as
/// Python's `time.time()` gives it. The corresponding C function is
/// `clock_gettime(CLOCK_REALTIME)`.
func systemWallClock() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1_000_000_000
}

/// Sleeps the calling thread. The corresponding C function is `nanosleep`.
func systemSleep(seconds: Double) {
    guard seconds > 0 else { return }
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
}

/// Renames a file, atomically replacing `destination` if it exists.
///
/// The corresponding C function is `rename`.
func systemRename(_ source: String, _ destination: String) throws(Errno) {
    try retryingInterrupts { rename(source, destination) }
}

/// Makes `destination` a second name of `source`. The corresponding C
/// function is `link`.
func systemLink(_ source: String, _ destination: String) throws(Errno) {
    try retryingInterrupts { link(source, destination) }
}

/// Makes the directory entries of `directory` durable (a rename or link in
/// it survives a crash). The corresponding C calls are `open(O_RDONLY |
/// O_DIRECTORY)` and `fsync`.
func systemSynchronizeDirectory(_ directory: String) throws(Errno) {
    let descriptor: FileDescriptor
    do {
        descriptor = try FileDescriptor.open(FilePath(directory), .readOnly, options: [.directory, .closeOnExec])
    } catch {
        throw error as? Errno ?? .ioError
    }
    defer { try? descriptor.close() }
    try descriptor.synchronize()
}

/// Removes a file name. The corresponding C function is `unlink`.
func systemUnlink(_ path: String) throws(Errno) {
    try retryingInterrupts { unlink(path) }
}

/// Puts the calling thread's I/O in the idle class (`ioprio_set(IOPRIO_WHO_PROCESS,
/// 0, IOPRIO_CLASS_IDLE)`): the block layer serves it when nothing else
/// waits, so a pack's reads do not hold up the mount's. Best effort: the C
/// library has no wrapper, so this goes through `syscall`, and does nothing
/// where the call is unknown.
func systemLowerIOPriority() {
    #if os(Linux) && arch(x86_64)
    let number = 251
    #elseif os(Linux) && arch(arm64)
    let number = 30
    #else
    let number = -1
    #endif
    guard number >= 0, let syscall = systemCall else { return }
    // IOPRIO_WHO_PROCESS = 1 (with 0: the calling thread); IOPRIO_CLASS_IDLE = 3 << 13.
    _ = syscall(number, 1, 0, 3 << 13)
}

/// The processors online, at least 1. The corresponding C call is
/// `sysconf(_SC_NPROCESSORS_ONLN)`.
func systemProcessorCount() -> Int {
    max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}

/// The calling process's id. The corresponding C function is `getpid`.
func systemProcessID() -> Int32 {
    Int32(getpid())
}

/// Runs a call that returns -1 and sets `errno` on failure, retrying on `EINTR`.
private func retryingInterrupts(_ call: () -> Int32) throws(Errno) {
    while true {
        if call() != -1 { return }
        let error = Errno(rawValue: errno)
        if error != .interrupted { throw error }
    }
}

/// Keeps the C library's threshold for serving an allocation with its own
/// mapping at its starting 128 KiB, so that a large array freed goes back
/// to the system at once. glibc raises the threshold to the size of each
/// mapped block freed (up to 32 MiB), after which such arrays come from
/// the heap and stay in the process when freed: a pack of millions of
/// objects frees its positions page by page while it builds the new index
/// (1.4 MB less at the peak of a pack of 2.2 million objects).
func systemReturnLargeFreesToSystem() {
    #if canImport(Glibc)
    // M_MMAP_THRESHOLD, from <malloc.h>, which the Glibc module leaves out.
    _ = glibcMallopt(-3, 128 << 10)
    #endif
}

#if canImport(Glibc)
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

extension FileDescriptor {
    /// How many pages of `[offset, offset + length)` are in the page cache
    /// (`cachestat`, Linux 6.5); nil where the kernel does not have it.
    /// It visits only the cached pages, where `mincore` over a mapping looks
    /// up every page: on a cold 2.4 GB file 23 ms against next to nothing.
    func cachedPageCount(offset: UInt64, length: UInt64) -> UInt64? {
        #if os(Linux) && arch(x86_64)
        var range = (offset, length)  // struct cachestat_range
        var stat: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)  // struct cachestat
        let result = withUnsafePointer(to: &range) { range in
            withUnsafeMutablePointer(to: &stat) { stat in linuxSyscall(451, Int(rawValue), range, stat, 0) }
        }
        return result == 0 ? stat.0 : nil
        #else
        return nil
        #endif
    }
}

#if os(Linux) && arch(x86_64)
/// glibc's `syscall(2)`, here for `cachestat` (451 on x86-64), which it
/// does not wrap. Variadic in C, so Swift does not import it; the
/// arguments are integers and pointers, passed in registers either way.
@_silgen_name("syscall")
private func linuxSyscall(_ number: Int, _ descriptor: Int, _ range: UnsafeRawPointer,
                          _ stat: UnsafeMutableRawPointer, _ flags: Int) -> Int
#endif
