import SystemPackage

/// Reads a file front to back through one large buffer, so that a scan over
/// millions of small headers costs one `pread` per buffer-full rather than one
/// per header, and skipping over record payloads costs nothing.
///
/// Callers ask for a *window* (`count` contiguous bytes at a file offset) and
/// index into ``buffer`` at the returned position. A window is never larger
/// than what the caller validated, so a damaged length can make the reader
/// allocate at most `max(capacity, count)` bytes, and `count` is always bounded
/// by the caller (headers are at most 23 + 3 × 65535 bytes, index buckets at
/// most 8 × 65536).
struct SequentialReader {
    let descriptor: FileDescriptor
    let path: String
    /// No byte at or after `limit` is read (a snapshot of the file size).
    let limit: UInt64
    private let capacity: Int

    /// The bytes of the current window; valid from index 0 to `bufferCount`.
    private(set) var buffer: [UInt8]
    private var bufferOffset: UInt64 = 0
    private var bufferCount = 0

    init(descriptor: FileDescriptor, path: String, limit: UInt64, capacity: Int = 1 << 20) {
        self.descriptor = descriptor
        self.path = path
        self.limit = limit
        self.capacity = capacity
        self.buffer = []
    }

    /// Makes the `count` bytes at `offset` contiguous in ``buffer``.
    ///
    /// - Returns: the index in ``buffer`` of the byte at `offset`, or nil when
    ///   fewer than `count` bytes exist before ``limit`` (or the file shrank
    ///   under us).
    mutating func window(at offset: UInt64, count: Int) throws(StorageError) -> Int? {
        precondition(count >= 0)
        guard offset <= limit, UInt64(count) <= limit - offset else { return nil }
        if offset >= bufferOffset, offset - bufferOffset <= UInt64(bufferCount),
            Int(offset - bufferOffset) + count <= bufferCount
        {
            return Int(offset - bufferOffset)
        }
        let wanted = Int(min(UInt64(max(capacity, count)), limit - offset))
        if buffer.count < wanted { buffer = [UInt8](repeating: 0, count: wanted) }
        let got: Int
        do {
            got = try descriptor.readFully(fromAbsoluteOffset: offset, count: wanted, into: &buffer, at: 0)
        } catch {
            throw .io(path: path, operation: "pread", errno: error.rawValue)
        }
        bufferOffset = offset
        bufferCount = got
        return got >= count ? 0 : nil
    }
}
