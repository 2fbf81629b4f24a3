import OFS
import Storage
import ZODB

/// File offset → Data.fs position of the payload bytes, for one revision of
/// a File whose body is a `Pdata` chain (DESIGN.md "Read path").
///
/// The table is built lazily, link by link, as reads need it, so the first
/// byte of a 1 GiB file costs one link. Each link costs a head and a tail
/// read of its record (`PdataLink`); the 64 KiB payloads are never read
/// here — the bridge splices them from Data.fs.
///
/// Zope writes a chain back to front (peer_baselines.md, fact 1): reading a
/// file forwards walks Data.fs backwards, where kernel readahead does not
/// help. So the table prefetches by *position*: once it knows which way the
/// chain runs, it has a window of Data.fs ahead in that direction read into
/// the page cache (``FileStorage/prefetch(offset:length:descending:)``:
/// forward reads of the region the coming links occupy, nearest first) and
/// tops it up as the walk moves, the window growing from `firstWindow` to
/// `largestWindow` during a sequential pass.
///
/// Positions belong to one generation of the storage's file: after a pack
/// swapped in a new file, the next read finds the storage's generation
/// changed and rebuilds the table from the chain's oids (the bytes are the
/// same, their positions are not). A read that raced the swap still gets
/// the old file's descriptor with the old positions, which the storage
/// keeps open until the next pack.
///
/// Concurrency: one mutex per table, held while links are walked; readers
/// of already-built parts only take it to copy the ranges they need.
final class ChunkTable: Sendable {
    /// A piece of a read reply.
    private enum Piece: Sendable, Equatable {
        case stored(FileRange)
        case inline([UInt8])
        /// Bytes of a link's record, as the storage loads it (ZEO).
        case record(OID, Range<Int>)
    }

    /// The pieces of one read: Data.fs ranges only (the usual case, handed
    /// to the bridge as they are), or a mix that must be assembled.
    private enum Slice {
        case stored([FileRange])
        case mixed([Piece])
    }

    let oid: OID
    let revision: TID
    let size: UInt64
    /// The chain's first link (the File's `data` reference).
    let firstLink: OID

    static let firstWindow: UInt64 = 4 << 20
    static let largestWindow: UInt64 = 64 << 20

    private struct State {
        /// File offset at which each link starts, ascending.
        var starts: [UInt64] = []
        var payloads: [PdataLink.Payload] = []
        /// The link each payload belongs to.
        var links: [OID] = []
        var builtEnd: UInt64 = 0
        var next: OID?
        var seen: Set<OID> = []
        /// The region of Data.fs last requested from the kernel, from the
        /// reading position to the far edge of the request. A position
        /// outside it (a second pass, a seek) starts a new one, so a pass
        /// after the page cache was dropped asks again.
        var prefetched: Range<UInt64>?
        /// The position of the link the walk found last, to learn the direction.
        var lastPosition: UInt64?
        /// The file offset just past the last read: a read that starts near
        /// it continues a sequential pass, one elsewhere is a seek.
        var lastReadEnd: UInt64?
        /// -1: links lie at decreasing positions (Zope's layout); +1: increasing.
        var direction = 0
        /// The size of the prefetch window, growing during a sequential pass.
        var window: UInt64 = 0
        /// The storage generation of the positions in `payloads`.
        var generation: UInt64 = 0
        /// A storage across a network (ZEO): the farthest link oid asked for
        /// ahead of the walk.
        var guessedThrough: UInt64?
    }

    private let state: Guarded<State>

    init(oid: OID, revision: TID, size: UInt64, first: OID) {
        self.oid = oid
        self.revision = revision
        self.size = size
        self.firstLink = first
        state = Guarded(Self.empty(first: first, generation: 0))
    }

    private static func empty(first: OID, generation: UInt64) -> State {
        var s = State()
        s.next = first
        s.generation = generation
        return s
    }

    /// Bytes [offset, offset + length) of the file, clipped to its size and
    /// to the end of the chain: as Data.fs ranges for the bridge to splice,
    /// or — only for a chain with links too small to locate, where the reply
    /// mixes both — assembled in memory (at most one request long).
    func read(offset: UInt64, length: Int, storage: any ObjectStorage) throws(FSError) -> ReadReply {
        let end = min(size, offset + UInt64(length))
        guard offset < end else { return .bytes([]) }
        // One look at the storage per read: the generation to build in, and
        // the descriptor its positions are read from. A storage without a
        // file (ZEO) has one generation and no descriptor.
        let fileStorage = storage as? FileStorage
        var file = fileStorage?.currentFile ?? (generation: 0, descriptor: -1)
        let (slice, generation) = try state.withLock { (s: inout State) throws(FSError) -> (Slice, UInt64) in
            var attempts = 0
            while true {
                if attempts > 0, let fileStorage { file = fileStorage.currentFile }
                if s.generation != file.generation { s = Self.empty(first: firstLink, generation: file.generation) }
                do throws(FSError) {
                    while s.builtEnd < end, let next = s.next {
                        try Self.walk(next, state: &s, storage: storage)
                    }
                    let slice = Self.slice(s, from: offset, to: min(end, s.builtEnd))
                    if case .stored(let ranges) = slice, let fileStorage, let last = ranges.last {
                        Self.readAhead(of: last, from: offset, to: end, state: &s, storage: fileStorage)
                    }
                    return (slice, s.generation)
                } catch .packedMeanwhile where attempts < 3 {
                    attempts += 1
                }
            }
        }
        let pieces: [Piece]
        switch slice {
        case .stored(let ranges):
            return .fileRanges(descriptor: file.descriptor, ranges: ranges)
        case .mixed(let mixed): pieces = mixed
        }
        var parts: [ArraySlice<UInt8>] = []
        parts.reserveCapacity(pieces.count)
        for piece in pieces {
            switch piece {
            case .inline(let inline): parts.append(inline[...])
            case .stored(let range):
                guard let fileStorage else { throw .corruptObject("a Data.fs range of \(oid) without a Data.fs") }
                do { parts.append(try fileStorage.read(at: range.offset, count: range.length, generation: generation)[...]) } catch { throw .storage(error) }
            case .record(let link, let range):
                let record: [UInt8]
                do { record = try storage.load(link).data } catch { throw .storage(error) }
                guard range.upperBound <= record.count else { throw .corruptObject("Pdata \(link) changed while \(oid) was read") }
                parts.append(record[range])
            }
        }
        return .pieces(parts)
    }

    private static func walk(_ oid: OID, state s: inout State, storage: any ObjectStorage) throws(FSError) {
        guard s.seen.insert(oid).inserted else {
            throw .corruptObject("Pdata chain loops back to \(oid)")
        }
        let link: PdataLink
        do {
            link = try PdataLink.read(oid, storage: storage, whole: s.links.isEmpty)
        } catch {
            throw FSError(error)
        }
        // A pack swapped files between two links: start over in the new one.
        guard link.generation == s.generation else { throw .packedMeanwhile }
        if case .stored(let position, _) = link.payload, let fileStorage = storage as? FileStorage {
            if let last = s.lastPosition, s.direction == 0 { s.direction = position < last ? -1 : 1 }
            s.lastPosition = position
            prefetch(around: position, state: &s, storage: fileStorage)
        } else if let next = link.next {
            prefetch(after: oid, next: next, state: &s, storage: storage)
        }
        if link.length > 0 {
            s.starts.append(s.builtEnd)
            s.payloads.append(link.payload)
            s.links.append(oid)
            s.builtEnd += UInt64(link.length)
        }
        s.next = link.next
    }

    /// A sequential reader's next stretch of Data.fs, asked for as the
    /// walk would: once the table is built, reads no longer walk, and a
    /// later pass over the file (after the page cache let it go) would
    /// otherwise read Data.fs backwards 64 KiB at a time. A seek asks for
    /// nothing; the read after it starts a new pass.
    private static func readAhead(of last: FileRange, from offset: UInt64, to end: UInt64,
                                  state s: inout State, storage: FileStorage) {
        defer { s.lastReadEnd = end }
        let slack: UInt64 = 4 << 20
        let sequential = s.lastReadEnd.map { offset + slack >= $0 && offset <= $0 + slack } ?? (offset == 0)
        guard sequential, s.direction != 0 else { return }
        prefetch(around: s.direction < 0 ? last.offset : last.offset + UInt64(last.length), state: &s, storage: storage)
    }

    /// Keeps a window of Data.fs requested ahead of `position` in the
    /// chain's direction: `firstWindow` at the first link (or after a
    /// seek), doubling up to `largestWindow` each time the reading has used
    /// a quarter of it, so a reader that stops early costs little and a
    /// sequential one keeps the disk's queue full.
    private static func prefetch(around position: UInt64, state s: inout State, storage: FileStorage) {
        if let region = s.prefetched, region.lowerBound <= position, position <= region.upperBound {
            switch s.direction {
            case -1:
                guard position - region.lowerBound < s.window - s.window / 4, region.lowerBound > 0 else { return }
                s.window = min(s.window * 2, largestWindow)
                let low = position > s.window ? position - s.window : 0
                storage.prefetch(offset: low, length: region.lowerBound - low, descending: true)
                s.prefetched = low..<min(region.upperBound, position + s.window)
            case 1:
                guard region.upperBound - position < s.window - s.window / 4 else { return }
                s.window = min(s.window * 2, largestWindow)
                storage.prefetch(offset: region.upperBound, length: position + s.window - region.upperBound)
                s.prefetched = max(region.lowerBound, position > s.window ? position - s.window : 0)..<position + s.window
            default:
                return
            }
            return
        }
        // The first request, or the position left the region.
        s.window = firstWindow
        let window = firstWindow
        let region: Range<UInt64>
        switch s.direction {
        case -1:
            let high = position + (128 << 10)
            region = (high > window ? high - window : 0)..<high
        case 1:
            region = position..<position + window
        default:
            // The first link: the direction is not known yet, so ask for a
            // little on both sides.
            let low = position > window / 4 ? position - window / 4 : 0
            region = low..<low + window / 2
        }
        storage.prefetch(offset: region.lowerBound, length: UInt64(region.count), descending: s.direction < 0)
        s.prefetched = region
    }

    static let guessedLinks: Int64 = 64

    /// The links ahead of a walk over a storage that sends records over the
    /// network, where every link is a round trip. Zope allocates a chain's
    /// oids one after the other as `_read_data` builds it back to front
    /// (and zodbfs's writer does the same), so a link's `next` is its oid
    /// minus one: the oids of the next links can be guessed and asked for
    /// together, one window at a time. A wrong guess costs one load of an
    /// unrelated object.
    private static func prefetch(after oid: OID, next: OID, state s: inout State, storage: any ObjectStorage) {
        let step = Int64(bitPattern: next.rawValue &- oid.rawValue)
        guard step == 1 || step == -1 else { return }
        let distance = s.guessedThrough.map { Int64(bitPattern: $0 &- next.rawValue) * step } ?? -1
        guard distance < guessedLinks / 2 else { return }
        let from = distance < 0 ? Int64(1) : distance + 1
        let guesses = (from...guessedLinks).compactMap { k -> OID? in
            let (value, overflow) = Int64(bitPattern: next.rawValue).addingReportingOverflow(k * step)
            return overflow || value < 0 ? nil : OID(UInt64(value))
        }
        guard let last = guesses.last else { return }
        storage.prefetch(guesses)
        s.guessedThrough = last.rawValue
    }

    /// The pieces covering [offset, end).
    private static func slice(_ s: State, from offset: UInt64, to end: UInt64) -> Slice {
        guard offset < end else { return .stored([]) }
        // Last link starting at or before `offset`.
        var lo = 0, hi = s.starts.count
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if s.starts[mid] <= offset { lo = mid } else { hi = mid }
        }
        var ranges: [FileRange] = []
        var mixed: [Piece]?
        var cursor = offset
        var i = lo
        while cursor < end, i < s.starts.count {
            let start = s.starts[i]
            let linkEnd = i + 1 < s.starts.count ? s.starts[i + 1] : s.builtEnd
            let from = cursor - start
            let to = min(end, linkEnd) - start
            switch s.payloads[i] {
            case .stored(let position, _):
                let range = FileRange(offset: position + from, length: Int(to - from))
                if mixed != nil { mixed!.append(.stored(range)) } else { ranges.append(range) }
            case .inline(let bytes):
                if mixed == nil { mixed = ranges.map(Piece.stored) }
                mixed!.append(.inline(Array(bytes[Int(from)..<Int(to)])))
            case .inRecord(let offset, _):
                if mixed == nil { mixed = ranges.map(Piece.stored) }
                mixed!.append(.record(s.links[i], (offset + Int(from))..<(offset + Int(to))))
            }
            cursor = start + to
            i += 1
        }
        return mixed.map(Slice.mixed) ?? .stored(ranges)
    }
}
