import SystemPackage

/// The most bytes one `posix_fadvise(POSIX_FADV_WILLNEED)` call reads on the
/// block device holding a file.
///
/// Linux caps each such call at the larger of the device's readahead window
/// and its largest request (`force_page_cache_ra`: `max(bdi->io_pages,
/// ra->ra_pages)` pages) and silently drops the rest of the range, so a
/// longer range must be asked for in pieces of at most this size
/// (`/sys/dev/block/M:m/queue/{read_ahead_kb,max_sectors_kb}`; a partition
/// has them on its disk).
enum ReadaheadLimit {
    /// When the device cannot be looked up (no sysfs, not a block device).
    static let fallback: UInt64 = 1 << 20
    static let smallest: UInt64 = 128 << 10
    static let largest: UInt64 = 8 << 20

    static func bytes(forDevice device: UInt64) -> UInt64 {
        // dev_t as glibc's gnu_dev_major / gnu_dev_minor take it apart.
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~UInt64(0xfff))
        let minor = (device & 0xff) | ((device >> 12) & ~UInt64(0xff))
        let base = "/sys/dev/block/\(major):\(minor)"
        for queue in [base + "/queue", base + "/../queue"] {
            let window = KernelSetting.number(queue + "/read_ahead_kb")
            let request = KernelSetting.number(queue + "/max_sectors_kb")
            if window != nil || request != nil {
                return min(max(max(window ?? 0, request ?? 0) << 10, smallest), largest)
            }
        }
        return fallback
    }
}
