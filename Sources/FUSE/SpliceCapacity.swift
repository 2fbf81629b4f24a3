#if canImport(Glibc)
import Glibc
#endif

/// The largest READ reply libfuse can splice.
///
/// libfuse 3.14 splices a reply through a per-thread pipe that it first
/// grows to `pagesize × (segments + 2) + header + payload` bytes. Pipes
/// cannot grow past `/proc/sys/fs/pipe-max-size` (1 MiB by default) without
/// CAP_SYS_RESOURCE, which non-root users and many containers lack; then a
/// 1 MiB reply does not fit, and libfuse falls back to `malloc` + `pread` +
/// `writev` with a fresh 1 MiB allocation per reply (mmap, page faults,
/// munmap: measured at a third of the throughput), and marks the thread's
/// pipe as ungrowable for good. Replies that would not fit are therefore
/// copied by the bridge itself (`Request.reply(descriptor:ranges:limit:)`).
enum SpliceCapacity {
    /// Bytes of pipe a reply may need and still be spliced.
    static let pipeLimit: Int = measurePipeLimit()

    /// F_SETPIPE_SZ: Linux-only, so Swift's Glibc module leaves it out.
    private static let setPipeSize: Int32 = 1031

    static let pageSize = max(4096, sysconf(Int32(_SC_PAGESIZE)))

    /// Whether libfuse can splice a reply of `payload` bytes in `segments` fd buffers.
    static func canSplice(payload: Int, segments: Int) -> Bool {
        let outHeader = 16  // struct fuse_out_header
        return pageSize * (segments + 2) + outHeader + payload <= pipeLimit
    }

    /// The largest readahead, in steps of 128 KiB up to `max_pages`' 1 MiB,
    /// whose READ replies fit: one segment per 64 KiB Zope chunk, and one
    /// more for a chunk boundary inside the range.
    static let largestSplicedReadKiB: Int = {
        var kib = 1024
        while kib > 128, !canSplice(payload: kib << 10, segments: kib / 64 + 1) { kib -= 128 }
        return kib
    }()

    private static func measurePipeLimit() -> Int {
        let maximum = readPipeMaximum() ?? 1 << 20
        // Can this process grow a pipe past the maximum?
        var descriptors: [Int32] = [-1, -1]
        guard pipe(&descriptors) == 0 else { return maximum }
        defer { descriptors.forEach { close($0) } }
        return fcntl(descriptors[0], setPipeSize, Int32(clamping: maximum * 4)) >= 0 ? Int.max : maximum
    }

    private static func readPipeMaximum() -> Int? {
        let descriptor = open("/proc/sys/fs/pipe-max-size", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return Int(String(decoding: buffer[..<count], as: UTF8.self).filter(\.isNumber))
    }
}
