import SystemPackage

/// Streams the uncompressed bytes of one backup file (`.fs`/`.deltafs` as
/// they are, `.fsz`/`.deltafsz` through ``GzipReader``), chunk by chunk —
/// repozo's `concat` and `dofile` — counting them as they pass.
final class BackupFileReader {
    static let chunkSize = 1 << 20
    let path: String
    private let file: FileDescriptor
    private let gzip: GzipReader?
    private(set) var size: UInt64 = 0

    init(path: String, gzip: Bool) throws(BackupError) {
        self.path = path
        file = try openBackupFile(path, .readOnly)
        do {
            self.gzip = gzip ? try GzipReader(input: file, path: path) : nil
        } catch {
            try? file.close()
            throw error
        }
    }

    deinit { try? file.close() }

    /// The next chunk; empty at the end.
    func read() throws(BackupError) -> [UInt8] {
        var bytes: [UInt8]
        if let gzip {
            bytes = try gzip.read(upTo: Self.chunkSize)
        } else {
            bytes = [UInt8](repeating: 0, count: Self.chunkSize)
            var n = 0
            while n < bytes.count {
                let got: Int
                do {
                    got = try bytes.withUnsafeMutableBytes { raw in
                        try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[n...]), retryOnInterrupt: true)
                    }
                } catch {
                    throw backupError(error, path, "read")
                }
                if got == 0 { break }
                n += got
            }
            bytes.removeLast(bytes.count - n)
        }
        size += UInt64(bytes.count)
        return bytes
    }

    /// The uncompressed size of a backup file without reading it: the file
    /// size, or for gzip the ISIZE of its trailer (RFC 1952: the size
    /// modulo 2³², which is why ``matches(_:size:)`` compares that way).
    static func recordedSize(of path: String, gzip: Bool) throws(BackupError) -> UInt64 {
        let size = try fileSize(path)
        guard gzip else { return size }
        guard size >= 18 else { throw .badGzip(path: path, reason: "\(size) bytes, shorter than a gzip header and trailer") }
        let file = try openBackupFile(path, .readOnly)
        defer { try? file.close() }
        var trailer = [UInt8](repeating: 0, count: 4)
        let n: Int
        do {
            n = try trailer.withUnsafeMutableBytes { try file.read(fromAbsoluteOffset: Int64(size - 4), into: $0) }
        } catch {
            throw backupError(error, path, "read")
        }
        guard n == 4 else { throw .badGzip(path: path, reason: "the trailer cannot be read") }
        return trailer.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }

    /// Whether a size from ``recordedSize(of:gzip:)`` is that of `expected` bytes.
    static func matches(_ recorded: UInt64, gzip: Bool, expected: UInt64) -> Bool {
        gzip ? recorded == expected & 0xFFFF_FFFF : recorded == expected
    }
}
