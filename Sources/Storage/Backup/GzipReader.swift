import CZlib
import SystemPackage

/// Reads a gzip file's uncompressed bytes piece by piece; members written
/// one after another read as one stream, as Python's `gzip` reads them.
/// Input goes through one fixed buffer, allocated once so the pointer zlib
/// keeps between calls stays valid.
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
        result.removeLast(count - produced)
        return result
    }

    private func refill() throws(BackupError) {
        let n: Int
        do {
            n = try input.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: capacity))
        } catch {
            throw backupError(error, path, "read")
        }
        if n == 0 { inputEnded = true }
        stream.next_in = buffer
        stream.avail_in = uInt(n)
    }
}
