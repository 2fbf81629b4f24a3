import CZlib
import SystemPackage

/// Writes a gzip file (RFC 1952) as Python's `gzip` module does, so repozo
/// reads our `.fsz`/`.deltafsz` and we read its; bytes are compressed as
/// they come, through one fixed buffer. This and ``GzipReader`` are the only
/// code that touches zlib; their buffers are allocated once so the pointers
/// zlib keeps between calls stay valid.
final class GzipWriter {
    private var stream = z_stream()
    private let output: FileDescriptor
    private let path: String
    private let capacity = 1 << 18
    private let buffer: UnsafeMutablePointer<UInt8>
    private var finished = false

    init(output: FileDescriptor, path: String) throws(BackupError) {
        self.output = output
        self.path = path
        buffer = .allocate(capacity: capacity)
        guard cz_deflate_init_gzip(&stream, 6) == Z_OK else {
            buffer.deallocate()
            throw .badGzip(path: path, reason: "deflateInit2 failed")
        }
    }

    deinit {
        deflateEnd(&stream)
        buffer.deallocate()
    }

    func write(_ bytes: [UInt8]) throws(BackupError) {
        try run(bytes, flush: Z_NO_FLUSH)
    }

    /// Writes the end of the stream (the CRC and size trailer).
    func finish() throws(BackupError) {
        guard !finished else { return }
        finished = true
        try run([], flush: Z_FINISH)
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
                let produced = capacity - Int(stream.avail_out)
                if produced > 0 {
                    do {
                        _ = try output.writeAll(UnsafeRawBufferPointer(start: buffer, count: produced))
                    } catch {
                        throw (error as? Errno ?? .ioError).backupError(path, "write")
                    }
                }
                if flush == Z_FINISH {
                    if status == Z_STREAM_END { return }
                } else if stream.avail_in == 0 && stream.avail_out != 0 {
                    return
                }
            }
        }
    }
}

/// Reads a gzip file's uncompressed bytes piece by piece; members written
/// one after another read as one stream, as Python's `gzip` reads them.
final class GzipReader {
    private var stream = z_stream()
    private let input: FileDescriptor
    private let path: String
    private let capacity = 1 << 18
    private let buffer: UnsafeMutablePointer<UInt8>
    private var inputEnded = false
    private var ended = false

    init(input: FileDescriptor, path: String) throws(BackupError) {
        self.input = input
        self.path = path
        buffer = .allocate(capacity: capacity)
        guard cz_inflate_init_gzip(&stream) == Z_OK else {
            buffer.deallocate()
            throw .badGzip(path: path, reason: "inflateInit2 failed")
        }
    }

    deinit {
        inflateEnd(&stream)
        buffer.deallocate()
    }

    /// Up to `count` uncompressed bytes; empty once the file is done.
    func read(upTo count: Int) throws(BackupError) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        var produced = 0
        while produced < count && !ended {
            if stream.avail_in == 0 && !inputEnded { try refill() }
            let status = result.withUnsafeMutableBufferPointer { out -> Int32 in
                stream.next_out = out.baseAddress! + produced
                stream.avail_out = uInt(count - produced)
                let status = inflate(&stream, Z_NO_FLUSH)
                produced = count - Int(stream.avail_out)
                return status
            }
            switch status {
            case Z_STREAM_END:
                if stream.avail_in == 0 && !inputEnded { try refill() }
                if stream.avail_in == 0 {
                    ended = true
                } else {
                    inflateReset(&stream)
                }
            case Z_OK:
                continue
            case Z_BUF_ERROR where !inputEnded:
                continue
            case Z_BUF_ERROR:
                throw .badGzip(path: path, reason: "the file ends in the middle of the stream")
            default:
                throw .badGzip(path: path, reason: "inflate returned \(status)")
            }
        }
        return Array(result.prefix(produced))
    }

    private func refill() throws(BackupError) {
        let n: Int
        do {
            n = try input.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: capacity))
        } catch {
            throw (error as? Errno ?? .ioError).backupError(path, "read")
        }
        if n == 0 { inputEnded = true }
        stream.next_in = buffer
        stream.avail_in = uInt(n)
    }
}
