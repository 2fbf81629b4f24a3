#if canImport(Glibc)
import Glibc
#endif
import CFuse3

/// The kernel's backing-device entry of a mount (`/sys/class/bdi/<major>:<minor>`),
/// where its readahead window is set. A FUSE mount gets an anonymous device
/// of its own, so changing it affects this mount only.
struct BackingDevice {
    let major: UInt32
    let minor: UInt32

    init(device: dev_t) {
        major = cfuse_dev_major(device)
        minor = cfuse_dev_minor(device)
    }

    var readAheadPath: String { "/sys/class/bdi/\(major):\(minor)/read_ahead_kb" }

    /// Writes `read_ahead_kb` (root only). Returns the errno on failure.
    func setReadAhead(kibibytes: Int) -> Int32? {
        let descriptor = open(readAheadPath, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return errno }
        defer { close(descriptor) }
        let text = Array("\(kibibytes)\n".utf8)
        let written = text.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        return written == text.count ? nil : (written < 0 ? errno : EIO)
    }

    /// The current `read_ahead_kb`, if it can be read.
    func readAhead() -> Int? {
        let descriptor = open(readAheadPath, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[..<count], as: UTF8.self)
        return Int(text.filter { $0.isNumber })
    }
}
