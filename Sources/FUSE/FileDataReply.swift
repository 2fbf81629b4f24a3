#if canImport(Glibc)
import Glibc
#endif
import CFuse3
import FS

extension Request {
    /// Replies to a READ with byte ranges of an open file (the Data.fs).
    ///
    /// Normally as a `fuse_bufvec` with one fd segment per range, which
    /// libfuse splices file → pipe → /dev/fuse (`FUSE_BUF_SPLICE_MOVE`): the
    /// payload never enters this process. When the reply is too big for the
    /// pipe libfuse may use (`SpliceCapacity`), the bridge `pread`s the ranges
    /// into a pooled buffer and sends that instead.
    ///
    /// The ranges are cut to `limit`, the size the kernel asked for: a larger
    /// reply would be rejected and the read would fail with EIO.
    func reply(descriptor: Int32, ranges: [FileRange], limit: Int) {
        var segments: [(offset: off_t, length: Int)] = []
        segments.reserveCapacity(ranges.count)
        var payload = 0
        for range in ranges where range.length > 0 && payload < limit {
            let length = min(range.length, limit - payload)
            segments.append((off_t(Int64(bitPattern: range.offset)), length))
            payload += length
        }

        if segments.isEmpty {
            fuse_reply_buf(raw, nil, 0)
        } else if !SpliceCapacity.canSplice(payload: payload, segments: segments.count) {
            replyCopying(descriptor: descriptor, segments: segments, payload: payload)
        } else if segments.count == 1 {
            var vector = cfuse_bufvec_fd(descriptor, segments[0].length, segments[0].offset)
            fuse_reply_data(raw, &vector, FUSE_BUF_SPLICE_MOVE)
        } else {
            let byteCount = cfuse_bufvec_size(segments.count)
            let memory = UnsafeMutableRawPointer.allocate(byteCount: byteCount,
                                                          alignment: MemoryLayout<fuse_bufvec>.alignment)
            defer { memory.deallocate() }
            let vector = memory.bindMemory(to: fuse_bufvec.self, capacity: 1)
            cfuse_bufvec_init(vector, segments.count)
            for (index, segment) in segments.enumerated() {
                cfuse_bufvec_set_fd(vector, index, descriptor, segment.length, segment.offset)
            }
            fuse_reply_data(raw, vector, FUSE_BUF_SPLICE_MOVE)
        }
    }

    /// Replies to a READ with parts of records in memory, as one I/O vector
    /// (`fuse_reply_iov`, a `writev` to /dev/fuse): the kernel gathers them
    /// straight from the records. Cut to `limit`, like the ranges above. A
    /// read of a chain of tiny links (many more pieces than a 1 MiB read of
    /// 64 KiB links has) is joined into one buffer instead.
    func reply(pieces: [ArraySlice<UInt8>], limit: Int) {
        var cut: [ArraySlice<UInt8>] = []
        var payload = 0
        for piece in pieces where !piece.isEmpty && payload < limit {
            cut.append(piece.prefix(limit - payload))
            payload += cut[cut.count - 1].count
        }
        guard cut.count <= 64 else {
            reply(bytes: Array(cut.joined()))
            return
        }
        var vectors: [iovec] = []
        vectors.reserveCapacity(cut.count)
        withVectors(cut[...], &vectors) { _ = fuse_reply_iov(raw, $0, Int32($0.count)) }
    }

    /// Calls `body` with an `iovec` per piece, each address valid for the
    /// whole call (one `withUnsafeBytes` nested in the next).
    private func withVectors(_ pieces: ArraySlice<ArraySlice<UInt8>>, _ vectors: inout [iovec],
                             _ body: ([iovec]) -> Void) {
        guard let piece = pieces.first else { return body(vectors) }
        piece.withUnsafeBytes { bytes in
            vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count))
            withVectors(pieces.dropFirst(), &vectors, body)
        }
    }

    /// `pread`s every segment into one buffer and replies with it. A failed
    /// read of the store is an EIO reply; a short one (the file ends early)
    /// ends the data there.
    private func replyCopying(descriptor: Int32, segments: [(offset: off_t, length: Int)], payload: Int) {
        context.replyBuffers.withBuffer(size: payload) { buffer in
            var filled = 0
            copying: for segment in segments {
                var done = 0
                while done < segment.length {
                    let count = pread(descriptor, buffer + filled, segment.length - done, segment.offset + off_t(done))
                    if count < 0 && errno == EINTR { continue }
                    if count < 0 {
                        fuse_reply_err(raw, EIO)
                        return
                    }
                    if count == 0 { break copying }
                    done += count
                    filled += count
                }
            }
            fuse_reply_buf(raw, buffer.assumingMemoryBound(to: CChar.self), filled)
        }
    }
}
