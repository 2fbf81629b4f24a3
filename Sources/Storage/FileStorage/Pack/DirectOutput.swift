import Dispatch
import SystemPackage

/// The packed file written with direct I/O (`O_DIRECT`) by a writer of its
/// own, while the pack fills the next chunk.
///
/// Why: most of a pack of a store of large files is writing. Through the
/// page cache, each byte is copied into a cache page, written back by the
/// flusher, and dropped again (a pack must not evict the mount's working
/// set); written directly, it goes from the chunk to the disk and no page
/// of the output is cached at all. On this disk 1 GiB went to the disk at
/// 1.4–1.8 GB/s written directly and at 0.4–0.9 GB/s through the cache
/// with an fsync after (`dd oflag=direct` against `conv=fsync`), and the
/// file-heavy pack's copy and swap took 0.84–0.98 s through the cache and
/// 0.41–0.59 s written directly (2 MiB chunks did as well as 4 MiB).
///
/// A chunk is written whole, so every write but the last is aligned; the
/// last one's tail goes with direct I/O off, which the descriptor keeps
/// from then on, since the packed file becomes the storage's. A file system
/// that refuses `O_DIRECT` — at the start or on the first write — gets the
/// same chunks through the page cache.
///
/// Memory: ``chunkCount`` chunks of ``chunkSize``, one being filled while
/// the others are written.
///
/// Concurrency: the pack's thread fills chunks and hands them over; one
/// serial queue writes them; a monitor holds the free chunks, the writes in
/// flight and the first failure, which the next hand-over or the finish
/// throws.
final class DirectOutput: Sendable {
    static let chunkSize = 2 << 20
    static let chunkCount = 3

    private struct State: Sendable {
        var free: [OutputChunk]
        var inFlight = 0
        var failure: Errno?
        var direct = true
    }

    private let descriptor: FileDescriptor
    private let state: Monitor<State>
    private let queue = DispatchQueue(label: "zodbfs.pack.output")

    /// Nil when the file system does not take direct I/O.
    init?(_ descriptor: FileDescriptor) {
        guard (try? descriptor.setDirectIO(true)) != nil else { return nil }
        self.descriptor = descriptor
        state = Monitor(State(free: (0..<Self.chunkCount).map { _ in OutputChunk(capacity: Self.chunkSize, offset: 0) }))
    }

    /// An empty chunk for the stretch at `offset`, once one is free.
    func chunk(at offset: UInt64) throws(Errno) -> OutputChunk {
        let chunk = try state.waitUntil { (s: inout State) throws(Errno) -> OutputChunk? in
            if let failure = s.failure { throw failure }
            return s.free.popLast()
        }
        chunk.reset(offset: offset)
        return chunk
    }

    /// Hands a full chunk to the writer and returns an empty one for what follows.
    func submit(_ chunk: OutputChunk) throws(Errno) -> OutputChunk {
        let next = chunk.offset + UInt64(chunk.count)
        state.withLock { $0.inFlight += 1 }
        queue.async { self.write(chunk) }
        return try self.chunk(at: next)
    }

    /// Writes the last chunk, which may end anywhere, and waits for every
    /// write; direct I/O is off afterwards.
    func finish(_ chunk: OutputChunk) throws(Errno) {
        try waitForWrites()
        let aligned = chunk.count / directIOAlignment * directIOAlignment
        let direct = state.withLock { $0.direct }
        if direct && aligned > 0 {
            try descriptor.writeFully(toAbsoluteOffset: chunk.offset, UnsafeRawBufferPointer(rebasing: chunk.bytes[..<aligned]))
        }
        try descriptor.setDirectIO(false)
        state.withLock { $0.direct = false }
        let rest = direct ? aligned : 0
        try descriptor.writeFully(
            toAbsoluteOffset: chunk.offset + UInt64(rest), UnsafeRawBufferPointer(rebasing: chunk.bytes[rest...]))
    }

    /// Waits until no write is in flight; throws the first that failed.
    func waitForWrites() throws(Errno) {
        try state.waitUntil { (s: inout State) throws(Errno) -> Bool? in
            guard s.inFlight == 0 else { return nil }
            if let failure = s.failure { throw failure }
            return true
        }
    }

    private func write(_ chunk: OutputChunk) {
        var failure: Errno?
        do throws(Errno) {
            try descriptor.writeFully(toAbsoluteOffset: chunk.offset, chunk.bytes)
        } catch .invalidArgument where state.withLock({ $0.direct }) {
            // Direct I/O accepted at open, refused on writing: through the cache then.
            state.withLock { $0.direct = false }
            do throws(Errno) {
                try descriptor.setDirectIO(false)
                try descriptor.writeFully(toAbsoluteOffset: chunk.offset, chunk.bytes)
            } catch {
                failure = error
            }
        } catch {
            failure = error
        }
        state.withLock { s in
            s.free.append(chunk)
            s.inFlight -= 1
            if s.failure == nil { s.failure = failure }
        }
        state.broadcast()
    }
}
