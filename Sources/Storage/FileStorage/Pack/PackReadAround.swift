import Dispatch
import SystemPackage

/// How the marking walk of a pack that skips garbage reads: the 2 MiB
/// block around each record it visits comes into the page cache whole, in
/// one 2 MiB folio, the first time the walk touches it, and the blocks
/// beyond it in the direction the walk goes follow in the background.
///
/// Why: such a pack reads no garbage — its index comes from the storage's
/// (``PackMarker/index(_:storageIndex:pacer:)``) and the copy passes over
/// transactions with nothing kept — so the walk is the first to read the
/// live data, and a Zope file is a chain of 64 KiB `Pdata` records, each
/// naming the next at its end, laid out back to front. Read record by
/// record, that is a small read of the disk per 64 KiB, each waiting for
/// the one before; read around, one 2 MiB request per 32 records, with
/// the next ones already under way, and the copy then finds the kept data
/// in the page cache. Live data sits together (a file's chain is one
/// transaction), so the blocks read for it hold little garbage: only
/// where a live stretch ends is a block read ahead for nothing.
///
/// Direction: a block whose upper neighbour was read already (the walk
/// comes down, as along a Zope chain) has the two below it read ahead, and
/// the other way round; a block with neither, one on each side. Reading
/// ahead stays inside the transaction of the record read (a file's chain
/// ends with its upload; the transaction beyond is most likely garbage):
/// on the 2.4 GB file-heavy store that cut what the pack read from 1,311
/// to 1,277 MiB (78 of them the program itself), for 993 MiB written.
/// And before a batch of the walk reads its records, their blocks are
/// queued together (``prefetch(_:)``), so the first reads of many chains
/// are at the disk at once.
///
/// Nothing else reads ahead: from the walk on, the input's mapping is
/// advised random, and the walk reads its records through a mapping of
/// its own rather than with `pread` (``bytes(at:count:)``), since the
/// kernel's read-ahead, started by a `read` of a block brought in, went
/// 4 to 8 MiB past each live stretch: 140 MiB in all, and the marking
/// took 0.46–0.54 s against 0.39–0.44 s without (alternating builds on
/// the same cold store). With the copy reading only the kept records
/// (``PackCopier/copyKept(_:to:marker:until:kept:pacer:)``), the pack
/// reads 1,060 MiB of the disk: 44 the program, 73 the transactions after
/// the pack time, 943 the blocks the walk brings in (the 2 MiB blocks that
/// hold kept records come to 944).
///
/// Memory: each block is faulted in through the input's `MADV_HUGEPAGE`
/// mapping (`MADV_POPULATE_READ`) and unmapped right after; the page cache
/// keeps it, and the pack's pacer drops it at the end if the mount did not
/// have it cached before. The walk's own mapping is let go every
/// ``readsPerSweep`` reads. A byte per block says how far it is.
///
/// Concurrency: the walk's workers and up to ``backgroundWorkers`` readers
/// share one monitor. A block is read by whoever claims it first; a walk
/// worker that needs a block being read waits for it, so no block is read
/// twice. ``finish()`` waits for the background readers before the
/// mapping may go. `@unchecked Sendable`: the mapping is only passed to
/// `madvise`, which any thread may call.
final class PackReadAround: @unchecked Sendable {
    static let blockSize: UInt64 = 2 << 20
    static let backgroundWorkers = 4

    private enum Block: UInt8 { case unread, reading, read }

    private struct State {
        var blocks: [Block]
        /// Where each transaction before the pack time starts, and the pack
        /// position after them (``limitReadingAhead(toTransactionsAt:)``).
        var transactions: [UInt64] = []
        /// Blocks claimed for the background readers, next first at the end.
        var queue: [Int] = []
        var running = 0
        var bytesRead: UInt64 = 0
        var finished = false
        /// Reads of the walk through ``walkMap`` since it was last let go.
        var readsSinceSweep = 0
    }

    private let map: MappedFile
    /// A second mapping of the file, in 4 KiB pages and advised random,
    /// that the walk reads through (``bytes(at:count:)``).
    private let walkMap: MappedFile
    private let state: Monitor<State>

    init(map: MappedFile) throws(Errno) {
        self.map = map
        walkMap = try MappedFile(map.descriptor, count: UInt64(map.count), smallPages: true)
        walkMap.adviseRandomAccess()
        let blocks = (UInt64(map.count) + Self.blockSize - 1) / Self.blockSize
        state = Monitor(State(blocks: [Block](repeating: .unread, count: Int(blocks))))
    }

    /// Keeps reading ahead inside the transaction of the record read:
    /// `starts` are the positions of the transactions, in order, and the
    /// position where the last ends.
    func limitReadingAhead(toTransactionsAt starts: [UInt64]) {
        state.withLock { $0.transactions = starts }
    }

    /// From here on the input's map is read at random
    /// (``MappedFile/adviseRandomAccess()``): a block comes in as exactly
    /// one 2 MiB folio, and the copy's faults on it later start no
    /// read-ahead past it. Called once indexing is done, which reads the
    /// transactions after the pack time in order and wants reading ahead.
    func beginWalk() {
        map.adviseRandomAccess()
    }

    /// `[offset, offset + count)`, its blocks brought in first.
    ///
    /// Read through ``walkMap``, not with `pread`: a block brought in is one
    /// folio marked for reading ahead (the kernel marks the folio a huge-page
    /// fault reads), and a `read` that meets a marked folio reads ahead
    /// past it whatever the file's advice: 4 to 8 MiB beyond a live
    /// stretch, into garbage, 140 MiB in all on the 2.4 GB file-heavy
    /// store. A fault in a mapping advised random starts no read-ahead,
    /// and in 4 KiB pages it maps the 64 KiB around it, not the block.
    /// Every ``readsPerSweep`` reads the whole of ``walkMap`` is let go;
    /// a worker reading it then simply faults its pages back.
    func bytes(at offset: UInt64, count: Int) -> [UInt8] {
        bringIn(from: offset, count: UInt64(count))
        let bytes = walkMap.bytes(at: Int(offset), count: count)
        let sweep = state.withLock { s -> Bool in
            s.readsSinceSweep += 1
            guard s.readsSinceSweep >= Self.readsPerSweep else { return false }
            s.readsSinceSweep = 0
            return true
        }
        if sweep { walkMap.forget(at: 0, count: walkMap.count) }
        return bytes
    }

    /// A read of the walk (a header, or a pickle's first 2 KiB or last 1 KiB;
    /// rarely a whole pickle) maps one or two 64 KiB windows: the walk keeps
    /// about 16 MiB of the file mapped.
    static let readsPerSweep = 128

    /// Bytes brought in so far (for the pack's rate limit).
    var bytesRead: UInt64 { state.withLock { $0.bytesRead } }

    /// Queues the blocks of `offsets` for the background readers, nearest
    /// the front of the list first: what a batch of the walk is about to
    /// read, so its first reads of many chains go to the disk together
    /// rather than one after another.
    func prefetch(_ offsets: [UInt64]) {
        startReaders(state.withLock { s -> Int in
            for offset in offsets.reversed() { Self.queue(Int(offset / Self.blockSize), in: &s) }
            return Self.readersToStart(&s)
        })
    }

    /// Brings the blocks that `[offset, offset + count)` touches into the
    /// page cache, unless they are there, and starts reading ahead of them.
    func bringIn(from offset: UInt64, count: UInt64) {
        guard count > 0 else { return }
        let first = Int(offset / Self.blockSize), last = Int((offset + count - 1) / Self.blockSize)
        for block in first...last {
            let (mine, starting) = state.withLock { s -> (Bool, Int) in
                guard block < s.blocks.count else { return (false, 0) }
                let mine = s.blocks[block] == .unread
                if mine { s.blocks[block] = .reading }
                Self.queueAhead(of: block, reading: offset, in: &s)
                return (mine, Self.readersToStart(&s))
            }
            startReaders(starting)
            if mine {
                read(block)
            } else {
                state.waitUntil { s in block >= s.blocks.count || s.blocks[block] != .reading ? true : nil }
            }
        }
    }

    /// Queues the two blocks after `block` in the direction the walk goes
    /// (one on each side when that is not known yet), inside the
    /// transaction around `offset`.
    private static func queueAhead(of block: Int, reading offset: UInt64, in s: inout State) {
        let up = block + 1 < s.blocks.count && s.blocks[block + 1] != .unread
        let down = block > 0 && s.blocks[block - 1] != .unread
        let transaction = bounds(of: offset, in: s.transactions)
        let inside = { (next: Int) in
            next >= 0 && UInt64(next + 1) * blockSize > transaction.lowerBound && UInt64(next) * blockSize < transaction.upperBound
        }
        let (a, b) = up && !down ? (block - 1, block - 2) : down && !up ? (block + 1, block + 2) : (block - 1, block + 1)
        if inside(a) { queue(a, in: &s) }
        if inside(b) { queue(b, in: &s) }
    }

    /// Claims `block` for the background readers, if it is unread.
    private static func queue(_ block: Int, in s: inout State) {
        guard !s.finished, block >= 0, block < s.blocks.count, s.blocks[block] == .unread else { return }
        s.blocks[block] = .reading
        s.queue.append(block)
    }

    /// How many more background readers the queue wants, counted as running.
    private static func readersToStart(_ s: inout State) -> Int {
        let starting = s.finished ? 0 : min(backgroundWorkers - s.running, s.queue.count)
        s.running += starting
        return starting
    }

    private func startReaders(_ count: Int) {
        for _ in 0..<count {
            DispatchQueue.global(qos: .utility).async { self.drain() }
        }
    }

    /// The transaction around `offset`: the whole file when the starts are
    /// not known or `offset` is past them.
    private static func bounds(of offset: UInt64, in starts: [UInt64]) -> Range<UInt64> {
        let next = starts.partitionPoint { $0 > offset }
        guard next > 0, next < starts.count else { return 0..<UInt64.max }
        return starts[next - 1]..<starts[next]
    }

    /// Stops reading ahead and waits for the background readers; blocks
    /// queued and not yet read go back to unread. Later reads (the copy
    /// following a backpointer) still bring in their own blocks.
    func finish() {
        state.withLock { s in
            s.finished = true
            for block in s.queue { s.blocks[block] = .unread }
            s.queue.removeAll()
        }
        state.broadcast()
        state.waitUntil { s in s.running == 0 ? true : nil }
        walkMap.forget(at: 0, count: walkMap.count)
    }

    private func drain() {
        while let block = state.withLock({ s -> Int? in
            guard !s.finished, let block = s.queue.popLast() else {
                s.running -= 1
                return nil
            }
            return block
        }) {
            read(block)
        }
        state.broadcast()
    }

    private func read(_ block: Int) {
        let start = block * Int(Self.blockSize)
        let length = min(Int(Self.blockSize), map.count - start)
        map.populate(at: start, count: length)
        map.forget(at: start, count: length)
        state.withLock { s in
            s.blocks[block] = .read
            s.bytesRead += UInt64(length)
        }
        state.broadcast()
    }
}
