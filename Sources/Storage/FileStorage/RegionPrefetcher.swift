import Dispatch
import SystemPackage

/// Reads stretches of Data.fs into the page cache ahead of a reader, on
/// background workers, in 2 MiB folios: what makes a cold read of a large
/// Zope file — whose chain Zope lays out back to front, so no readahead of
/// the kernel's follows it — nearly as fast as reading Data.fs with `dd`.
///
/// Why not `posix_fadvise(WILLNEED)`: it fills the page cache with 4 KiB
/// folios, so a request to the disk carries at most 1 MiB (a bio's 256
/// pages) and splicing a 64 KiB chunk to FUSE moves 16 pipe buffers. A
/// fault in a `MADV_HUGEPAGE` mapping reads the file into 2 MiB folios
/// instead (`do_sync_mmap_readahead`), as a sequential `read` does;
/// `MADV_POPULATE_READ` takes those faults for a whole piece in one call,
/// and unmapping the piece right after (the page cache keeps it) bounds the
/// process's memory to `workers × pieceSize`. Populating a piece waits for
/// its one 4 MiB request, hence the workers: each is one request in the
/// disk's queue. Measured here, 640 MiB of Data.fs read back to front in
/// 4 MiB pieces: 0.98 GB/s with one worker, 2.35 GB/s with four (dd: 2.3–2.8);
/// a cold read through the mount, in the rounds where the disk gave `dd`
/// 2.3–2.7 GB/s: 2.2–2.4 GB/s with four workers, 1.5–1.6 with WILLNEED.
///
/// Requests queue in the order given, nearest the reader first; when a
/// reader outruns the workers, or seeks, the oldest requests are dropped.
///
/// Concurrency: the queue is behind its own lock; each worker maps the file
/// for itself and lets the mapping go when the queue is empty.
final class RegionPrefetcher: Sendable {
    static let pieceSize: UInt64 = 4 << 20
    static let workers = 4
    static let queueLimit = 32

    struct Piece: Sendable {
        var file: StorageFile
        /// The storage's end when asked: how much of the file to map.
        var end: UInt64
        var offset: UInt64
        var length: UInt64
    }

    private struct State: Sendable {
        var queue: [Piece] = []
        var running = 0
    }

    private let state = Guarded(State())

    /// A prefetcher when this kernel gives files transparent huge pages
    /// (`/sys/kernel/mm/transparent_hugepage/enabled` is not `never`);
    /// nil where only `posix_fadvise` can help.
    static func ifHugePagesAvailable() -> RegionPrefetcher? {
        guard let setting = KernelSetting.text("/sys/kernel/mm/transparent_hugepage/enabled"),
              !setting.contains("[never]") else { return nil }
        return RegionPrefetcher()
    }

    private init() {}

    /// Queues `[offset, offset + length)` of `file`, in pieces aligned to
    /// 2 MiB (one folio each at most), nearest `offset + length` first
    /// when `descending`.
    func request(_ file: StorageFile, end: UInt64, offset: UInt64, length: UInt64, descending: Bool) {
        let huge: UInt64 = 2 << 20
        let low = offset / huge * huge
        let high = min(end, offset + length)
        guard high > low else { return }
        var pieces = stride(from: low, to: high, by: Int(Self.pieceSize)).map {
            Piece(file: file, end: end, offset: $0, length: min(Self.pieceSize, high - $0))
        }
        if descending { pieces.reverse() }
        let starting = state.withLock { s -> Int in
            s.queue += pieces
            if s.queue.count > Self.queueLimit { s.queue.removeFirst(s.queue.count - Self.queueLimit) }
            let idle = min(Self.workers - s.running, s.queue.count)
            s.running += idle
            return idle
        }
        for _ in 0..<starting {
            DispatchQueue.global(qos: .utility).async { self.drain() }
        }
    }

    private func drain() {
        var mapping: (generation: UInt64, map: MappedFile)?
        while let piece = state.withLock({ s -> Piece? in
            guard !s.queue.isEmpty else {
                s.running -= 1
                return nil
            }
            return s.queue.removeFirst()
        }) {
            if mapping?.generation != piece.file.generation || UInt64(mapping?.map.count ?? 0) < piece.offset + piece.length {
                // A file a pack replaced, or that grew: map it anew. A
                // descriptor closed meanwhile fails here and is skipped.
                mapping = (try? MappedFile(piece.file.descriptor, count: piece.end)).map { (piece.file.generation, $0) }
                mapping?.map.adviseHugePages()
            }
            guard let map = mapping?.map else { continue }
            map.populate(at: Int(piece.offset), count: Int(piece.length))
            map.forget(at: Int(piece.offset), count: Int(piece.length))
        }
    }
}
