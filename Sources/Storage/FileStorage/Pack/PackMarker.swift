import Dispatch

/// Slots of a buffer that concurrent workers fill, each its own indices
/// (the walk's batch results): `@unchecked Sendable` because the indices
/// never overlap and the buffer outlives the workers.
private struct DisjointSlots<Element>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Element>
    init(_ buffer: UnsafeMutableBufferPointer<Element>) { self.buffer = buffer }
    subscript(index: Int) -> Element {
        get { buffer[index] }
        nonmutating set { buffer[index] = newValue }
    }
}

/// Which data records survive a pack: ZODB's `fspack.GC`, rule for rule
/// (zodb_formats.md §3.1–3.2).
///
/// - ``current``: for every oid, the position of its revision current at the
///   pack time, 0 when that revision deletes it (`buildPackIndex`).
/// - `reachable` (ZODB's fsIndex of oid → kept position): an oid reached
///   from the root `z64` by references (`findReachableAtPacktime`) keeps its
///   revision current at the pack time, so a bitmap of oids says it all
///   (``reached``); an oid only named by a later backpointer keeps that
///   backpointer's target (``keptAt``, rare).
/// - ``extra``: further pre-pack-time revisions kept because a transaction
///   after the pack time points back at them (`reach_ex`), whose references
///   are then walked too (`findReachableFromFuture`).
///
/// Like ZODB, an oid first reached through a later backpointer keeps only
/// that revision and its references are not walked; unlike ZODB, a reference
/// to an oid that does not exist at the pack time is counted in
/// ``danglingReferences`` instead of failing the pack (there is nothing to
/// keep for it either way).
///
/// Memory: 6 bytes per oid (``PackPositions``), a bit per oid, and a work
/// stack that holds each oid at most once, whatever the size of the data.
struct PackMarker {
    private(set) var current: PackPositions
    private var reached = OIDSet()
    private var keptAt: [OID: UInt64] = [:]
    private(set) var extra: [OID: [UInt64]] = [:]
    /// The first transaction after the pack time (ZODB's `packpos`).
    private(set) var packPosition: UInt64 = 4
    private(set) var recordsBeforePackTime = 0
    private(set) var recordsAfterPackTime = 0
    private(set) var danglingReferences = 0
    /// Every backpointer target named in the input after the pack time: the
    /// records whose new positions the copy must remember.
    private(set) var backpointerTargets: Set<UInt64> = []

    let stop: TID
    let garbageCollect: Bool

    init(stop: TID, garbageCollect: Bool) {
        self.stop = stop
        self.garbageCollect = garbageCollect
        current = PackPositions()
    }

    /// Why a pack has nothing to do, found while indexing.
    enum Redundancy: Error {
        /// Every transaction up to the pack time was already packed, and so
        /// is the next one: ZODB's `RedundantPackWarning`.
        case alreadyPacked
    }

    /// `buildPackIndex`: a sequential scan up to the first transaction after
    /// the pack time.
    mutating func index(_ input: PackInput, pacer: inout PackPacer) throws(StorageError) -> Redundancy? {
        var position: UInt64 = 4
        var unpacked = false
        while position < input.end {
            let transaction = try input.checkedTransaction(at: position)
            if transaction.header.tid > stop { break }
            if transaction.header.status != TransactionStatus.packed { unpacked = true }
            try input.forEachRecord(of: transaction) { record in
                current.updateValue(record.pickleLength > 0 || record.back != 0 ? record.position : 0, forKey: record.oid)
                recordsBeforePackTime += 1
            }
            try input.checkTrailer(of: transaction)
            position = transaction.next
            pacer.advance(to: position, objects: current.count, read: transaction.header.length + 8, input: input)
        }
        packPosition = position
        if !unpacked, position < input.end {
            let next = try input.transaction(at: position)
            if next.header.status == TransactionStatus.packed { return .alreadyPacked }
        }
        return nil
    }

    /// `buildPackIndex` without reading the data records before the pack
    /// time, for a pack that skips garbage: the revision of each oid current
    /// at the pack time is the storage's current one when that lies before
    /// the pack time, and otherwise the one the `prev` pointer of its first
    /// record after the pack time names (every writer of FileStorage sets
    /// `prev` to the oid's last record). Only transaction headers are read
    /// up to the pack time, then the records after it.
    ///
    /// One difference from the scan: a revision that deletes its object
    /// (an undone creation) stands here as a position, not as 0, since
    /// telling would mean reading it. The walk reads every revision it
    /// reaches, and treats one that deletes its object as the scan's 0
    /// would have been (``walk(from:_:references:pacer:)``); without the walk
    /// (no garbage collection) this index is not used.
    ///
    /// `recordsBeforePackTime` stays 0: the records before it are not read.
    /// The transactions' positions (8 bytes each) go to the walk's reading
    /// ahead, which stays inside a transaction.
    mutating func index(_ input: PackInput, storageIndex: ObjectIndex, pacer: inout PackPacer) throws(StorageError) -> Redundancy? {
        var position: UInt64 = 4
        var unpacked = false
        var packedNext = false
        var starts: [UInt64] = []
        while position < input.end {
            let transaction = try input.transactionHeader(at: position)
            starts.append(position)
            if transaction.header.tid > stop {
                packedNext = transaction.header.status == TransactionStatus.packed
                break
            }
            if transaction.header.status != TransactionStatus.packed { unpacked = true }
            position = transaction.next
            pacer.advance(to: position, objects: 0, read: UInt64(TransactionHeader.size + 8), input: nil)
        }
        packPosition = position
        if !unpacked, position < input.end, packedNext { return .alreadyPacked }
        if starts.last != position { starts.append(position) }
        input.readAround?.limitReadingAhead(toTransactionsAt: starts)
        for (oid, at) in storageIndex where at < packPosition {
            current.updateValue(at, forKey: oid)
        }
        var seenAfter = OIDSet()
        let packPosition = packPosition
        while position < input.end {
            let transaction = try input.transaction(at: position) { (record) throws(StorageError) in
                guard seenAfter.insert(record.oid), record.previous != 0 else { return }
                guard record.previous < packPosition else {
                    throw input.corrupted(record.position, "the previous record of \(record.oid.repr) is not before the pack time, yet this is its first record after it")
                }
                current.updateValue(record.previous, forKey: record.oid)
            }
            position = transaction.next
            pacer.advance(to: position, objects: current.count, read: transaction.header.length + 8, input: input)
        }
        return nil
    }

    /// The positions of the revisions kept before the pack time, sorted,
    /// each once: what lets the copy skip a transaction that keeps nothing
    /// without reading its records, and read only the kept records of the
    /// others. An undo after the pack time can point back at an object's
    /// kept revision itself, which ``extra`` then names too, as ZODB's
    /// `reach_ex` does; it is listed once.
    func keptPositions() -> [UInt64] {
        var kept: [UInt64] = []
        kept.reserveCapacity(reached.count + keptAt.count)
        for (oid, position) in current where position != 0 && position < packPosition && reached.contains(oid)
            && (keptAt.isEmpty || keptAt[oid] == nil) {
            kept.append(position)
        }
        for (_, position) in keptAt where position < packPosition { kept.append(position) }
        for (oid, positions) in extra {
            let own = keptRevision(of: oid)
            kept += positions.filter { $0 != own }
        }
        kept.sort()
        return kept
    }

    /// `findReachable`: the walk from the root, then the backpointers of
    /// the transactions after the pack time. Without garbage collection,
    /// every revision current at the pack time is kept.
    mutating func mark(_ input: PackInput, references: ReferenceFinder, pacer: inout PackPacer) throws(StorageError) {
        if garbageCollect {
            try walk(from: [.root], input, references: references, pacer: &pacer)
        } else {
            for (oid, position) in current where position != 0 { reached.insert(oid) }
        }
        var extraRoots: [UInt64] = []
        var position = packPosition
        while position < input.end {
            let transaction = try input.transaction(at: position) { record in
                recordsAfterPackTime += 1
                guard record.back != 0 else { return }
                backpointerTargets.insert(record.back)
                guard garbageCollect, record.back < packPosition else { return }
                if isReachable(record.oid) {
                    if extra[record.oid, default: []].contains(record.back) { return }
                    extra[record.oid, default: []].append(record.back)
                    extraRoots.append(record.back)
                } else {
                    keptAt[record.oid] = record.back
                }
            }
            position = transaction.next
            pacer.advance(to: position, objects: reached.count, read: transaction.header.length + 8, input: input)
        }
        for root in extraRoots {
            try walk(from: (try Self.referencesOf(oid(at: root, input), at: root, input, references: references) ?? []).map(OID.init(rawValue:)),
                     input, references: references, pacer: &pacer)
        }
    }

    /// The copy wrote the kept record of `oid` at `old` to `new` in the
    /// packed file. The entry of a kept revision in ``current`` (or
    /// `keptAt`) then holds its new position: ``current`` becomes the packed
    /// file's index in place, oid for oid, instead of a list of every record
    /// copied that is sorted at the end — 25 MB and a sort buffer more for
    /// 1.5 million objects, on top of the index.
    ///
    /// ``keeps(_:at:)`` stays right: a record is moved when the copy reaches
    /// it, in file order, so every later record of the oid lies after `old`,
    /// and `new` is never past `old` (the packed file only shrinks), so no
    /// later record can be mistaken for the moved one. Older revisions
    /// kept besides (``extra``) are not the oid's current one and change
    /// nothing.
    mutating func recordMoved(_ oid: OID, from old: UInt64, to new: UInt64) {
        if !keptAt.isEmpty, let at = keptAt[oid] {
            if at == old { keptAt[oid] = new }
        } else if reached.contains(oid), current[oid] == old {
            current.updateValue(new, forKey: oid)
        }
    }

    /// The packed file's index once every kept revision was moved: each
    /// kept oid at the new position of its revision current at the pack
    /// time. Marking is over, so the marker's own sets are dropped; each
    /// page of ``current`` is freed as its bucket is made, so the index and
    /// the positions are never both whole.
    mutating func takePackedIndex() -> ObjectIndex {
        var index = ObjectIndex()
        let reached = reached
        current.drainBuckets(keeping: { oid, position in position != 0 && reached.contains(oid) }) { prefix, suffixes, positions in
            index.appendBucket(prefix: prefix, suffixes: suffixes, positions: positions)
        } entry: { oid, position in
            index.updateValue(position, forKey: oid)
        }
        for (oid, position) in keptAt { index.updateValue(position, forKey: oid) }
        self.reached = OIDSet()
        keptAt = [:]
        extra = [:]
        return index
    }

    /// `isReachable`: whether the revision of `oid` at `position` is kept.
    func keeps(_ oid: OID, at position: UInt64) -> Bool {
        guard let kept = keptRevision(of: oid) else { return false }
        return kept == position || (!extra.isEmpty && extra[oid]?.contains(position) == true)
    }

    /// `reachable[oid]`: the one revision of `oid` kept besides ``extra``.
    private func keptRevision(of oid: OID) -> UInt64? {
        if !keptAt.isEmpty, let at = keptAt[oid] { return at }
        return reached.contains(oid) ? current[oid] : nil
    }

    /// `oid in reachable`. (The dictionaries are empty unless undos point
    /// before the pack time: skip hashing then.)
    @inline(__always)
    private func isReachable(_ oid: OID) -> Bool {
        reached.contains(oid) || (!keptAt.isEmpty && keptAt[oid] != nil)
    }

    /// `findReachableAtPacktime`: a walk over references, each oid queued
    /// at most once. It goes in batches: the records of a batch are read and
    /// scanned for references on every core (reading and scanning are most
    /// of the pack of a store of many small objects), then marked here. The
    /// set reached does not depend on the order of the walk, so this is the
    /// set ZODB reaches.
    private mutating func walk(from roots: [OID], _ input: PackInput, references: ReferenceFinder, pacer: inout PackPacer) throws(StorageError) {
        var queued = OIDSet()
        var todo = roots.filter { !isReachable($0) && queued.insert($0) }
        var batch: [(oid: OID, position: UInt64)] = []
        while !todo.isEmpty {
            batch.removeAll(keepingCapacity: true)
            while batch.count < Self.batchSize, let oid = todo.popLast() {
                guard !isReachable(oid) else { continue }
                guard let position = current[oid], position != 0 else {
                    // Pack to before the root existed, or a reference to an
                    // object that does not exist at the pack time.
                    if oid != .root { danglingReferences += 1 }
                    continue
                }
                reached.insert(oid)
                batch.append((oid, position))
            }
            input.readAround?.prefetch(batch.map(\.position))
            for (i, found) in try Self.referencesOf(batch, input, references: references).enumerated() {
                guard let found else {
                    // A revision that deletes its object: as if it were not
                    // there (the scan's index holds 0 for it).
                    reached.remove(batch[i].oid)
                    current.updateValue(0, forKey: batch[i].oid)
                    if batch[i].oid != .root { danglingReferences += 1 }
                    continue
                }
                for raw in found {
                    let next = OID(rawValue: raw)
                    if !isReachable(next) && queued.insert(next) { todo.append(next) }
                }
            }
            pacer.tick(objects: reached.count, read: input.readAround?.bytesRead)
        }
    }

    static let batchSize = 4096

    /// The references of each record of `batch`, read and scanned on all
    /// processors; each worker fills its own slots of the result. Nil for a
    /// record that deletes its object.
    private static func referencesOf(
        _ batch: [(oid: OID, position: UInt64)], _ input: PackInput, references: ReferenceFinder
    ) throws(StorageError) -> [[UInt64]?] {
        let workers = max(1, min(systemProcessorCount(), batch.count / 64))
        var results = [[UInt64]?](repeating: [], count: batch.count)
        var failures = [StorageError?](repeating: nil, count: workers)
        results.withUnsafeMutableBufferPointer { resultBuffer in
            failures.withUnsafeMutableBufferPointer { failureBuffer in
                let slots = DisjointSlots(resultBuffer), errors = DisjointSlots(failureBuffer)
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    var i = worker
                    while i < batch.count {
                        do throws(StorageError) {
                            slots[i] = try referencesOf(batch[i].oid, at: batch[i].position, input, references: references)
                        } catch {
                            errors[worker] = error
                            return
                        }
                        i += workers
                    }
                }
            }
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
        return results
    }

    /// `findrefs`: the references of the data the record of `oid` at
    /// `position` holds or points back to; nil when the record deletes its
    /// object.
    private static func referencesOf(_ oid: OID, at position: UInt64, _ input: PackInput, references: ReferenceFinder) throws(StorageError) -> [UInt64]? {
        let pickle: RecordPickle
        switch try input.readForWalk(at: position, oid: oid) {
        case .pickle(let found): pickle = found
        case .noData: return []
        case .deletesObject: return nil
        }
        do {
            if let found = try references(pickle) { return found }
            guard case .pickle(let whole) = try input.readForWalk(at: position, oid: oid, sample: nil) else { return [] }
            return try references(whole) ?? []
        } catch {
            throw .corrupted(
                path: input.path, offset: position,
                reason: "pack cannot read the references of \(oid.repr) (\(error)); nothing was changed")
        }
    }

    private func oid(at position: UInt64, _ input: PackInput) throws(StorageError) -> OID {
        guard position >= 4, position + UInt64(DataHeader.size) <= input.end else {
            throw input.corrupted(position, "backpointer target outside the storage")
        }
        return OID(rawValue: input.map.uint64BE(at: Int(position)))
    }
}
