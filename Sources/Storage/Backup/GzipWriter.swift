#if canImport(Glibc)
import Glibc
#endif
import CZlib

/// Compresses a backup file into a gzip stream (RFC 1952, one member), as
/// Python's `gzip.open(…, 'wb')` writes `.fsz`/`.deltafsz`, so repozo reads
/// ours and we read its; bytes are compressed as they come, through one
/// fixed output buffer. This and ``GzipReader`` are the only code that
/// touches zlib.
///
/// A Data.fs is mostly pickles (which compress well) and often holds
/// already-compressed file bodies (images, PDFs, archives), which deflate
/// cannot shrink but spends most of its time on. Each chunk that looks
/// incompressible — its bytes' entropy is close to 8 bits — is therefore
/// stored (deflate level 0, `deflateParams`) instead of compressed at
/// zlib's default level 6, which repozo's help promises. The stream stays
/// one ordinary gzip member; only how its blocks are coded changes.
final class GzipWriter {
    static let level: Int32 = 6
    private var stream = z_stream()
    private let path: String
    private let sink: (UnsafeRawBufferPointer) throws(BackupError) -> Void
    private let capacity = 1 << 18
    private let buffer: UnsafeMutablePointer<UInt8>
    private var currentLevel = GzipWriter.level
    private var finished = false

    /// - Parameter sink: takes each piece of compressed output.
    init(path: String, sink: @escaping (UnsafeRawBufferPointer) throws(BackupError) -> Void) throws(BackupError) {
        self.path = path
        self.sink = sink
        buffer = .allocate(capacity: capacity)
        guard cz_deflate_init_gzip(&stream, Self.level) == Z_OK else {
            buffer.deallocate()
            throw .badGzip(path: path, reason: "deflateInit2 failed")
        }
    }

    deinit {
        deflateEnd(&stream)
        buffer.deallocate()
    }

    func write(_ bytes: [UInt8]) throws(BackupError) {
        guard !bytes.isEmpty else { return }
        let level = Self.looksIncompressible(bytes) ? 0 : Self.level
        if level != currentLevel { try setLevel(level) }
        try run(bytes, flush: Z_NO_FLUSH)
    }

    /// Writes the end of the stream (the CRC and size trailer).
    func finish() throws(BackupError) {
        guard !finished else { return }
        finished = true
        try run([], flush: Z_FINISH)
    }

    /// `deflateParams` ends the current block with the old level; it asks
    /// for more output room (`Z_BUF_ERROR`) until that block is out.
    private func setLevel(_ level: Int32) throws(BackupError) {
        for _ in 0..<64 {
            stream.next_in = nil
            stream.avail_in = 0
            stream.next_out = buffer
            stream.avail_out = uInt(capacity)
            let status = deflateParams(&stream, level, Z_DEFAULT_STRATEGY)
            try emit(capacity - Int(stream.avail_out))
            if status == Z_OK {
                currentLevel = level
                return
            }
            guard status == Z_BUF_ERROR else { throw .badGzip(path: path, reason: "deflateParams returned \(status)") }
        }
        throw .badGzip(path: path, reason: "deflateParams made no progress")
    }

    private func run(_ input: [UInt8], flush: Int32) throws(BackupError) {
        var input = input
        try input.withUnsafeMutableBufferPointer { (inputBuffer: inout UnsafeMutableBufferPointer<UInt8>) throws(BackupError) in
            stream.next_in = inputBuffer.baseAddress
            stream.avail_in = uInt(inputBuffer.count)
            defer { stream.next_in = nil }
            while true {
                stream.next_out = buffer
                stream.avail_out = uInt(capacity)
                let status = deflate(&stream, flush)
                guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                    throw .badGzip(path: path, reason: "deflate returned \(status)")
                }
                try emit(capacity - Int(stream.avail_out))
                if flush == Z_FINISH {
                    if status == Z_STREAM_END { return }
                } else if stream.avail_in == 0 && stream.avail_out != 0 {
                    return
                }
            }
        }
    }

    private func emit(_ count: Int) throws(BackupError) {
        if count > 0 { try sink(UnsafeRawBufferPointer(start: buffer, count: count)) }
    }

    /// True when a sample of the chunk (four 4 KiB slices spread over it)
    /// has a byte entropy above 7.9 bits: random-looking, already
    /// compressed data, where level 6 gains a percent or two at the price
    /// of most of the time. Small chunks are always compressed.
    static func looksIncompressible(_ bytes: [UInt8]) -> Bool {
        let slice = 4096
        guard bytes.count >= 16 * slice else { return false }
        var counts = [Int](repeating: 0, count: 256)
        let step = (bytes.count - slice) / 3
        bytes.withUnsafeBufferPointer { raw in
            for part in 0..<4 {
                for byte in raw[(part * step)..<(part * step + slice)] { counts[Int(byte)] += 1 }
            }
        }
        let total = Double(4 * slice)
        var entropy = 0.0
        for count in counts where count > 0 {
            let p = Double(count) / total
            entropy -= p * log2(p)
        }
        return entropy > 7.9
    }
}
