import SystemPackage

extension FileStorage {
    /// Packs the storage: ZODB's `FileStorage.pack(t, referencesf)` — keep
    /// every object reachable from the root as of `stop` in its revision
    /// current then, and everything committed after `stop` — while readers
    /// and commits go on.
    ///
    /// The phases (zodb_formats.md §3.2): index the revisions current at the
    /// pack time, mark what is reachable, copy it to `Data.fs.pack`, copy the
    /// transactions after the pack time — first those in the file when the
    /// pack began, then, in rounds, those committed meanwhile — and finally,
    /// under the commit lock, the last few and the swap. Only that last step
    /// holds up commits, and readers are never held up: they keep reading the
    /// old file until the new one is published with its index, in one step.
    ///
    /// Crash safety: the packed file is fsynced before it is renamed over
    /// `Data.fs`, so at every moment `Data.fs` names a complete storage with
    /// every committed transaction — the original until the rename, the
    /// packed one after. The original stays as `Data.fs.old` (a hard link
    /// made before the rename, so `Data.fs` never goes missing); a stale
    /// `Data.fs.index` is removed before the swap and rewritten after it, and
    /// a crash in between costs one full scan at the next open. A crash
    /// before the swap leaves a `Data.fs.pack`, which the next pack replaces.
    ///
    /// - Parameters:
    ///   - stop: the pack time as a tid (``TID/init(timeIntervalSince1970:)``
    ///     of the time, as ZODB computes it).
    ///   - references: the oids a record refers to (the ZODB layer's
    ///     reference scanner).
    /// - Returns: what was done; ``PackResult/swapped`` is false when there
    ///   was nothing to free (the file is untouched).
    /// - Throws: ``StorageError/readOnly``, ``StorageError/packInProgress(path:)``,
    ///   ``StorageError/corrupted(path:offset:reason:)`` (damage, or a pickle
    ///   whose references cannot be read), ``StorageError/io(path:operation:errno:)``
    ///   (`ENOSPC` …). Any error leaves `Data.fs` as it was.
    public func pack(before stop: TID, references: ReferenceFinder, options: PackOptions = PackOptions()) throws(StorageError) -> PackResult {
        try runExclusively(stop: stop, references: references, options: options, releasingIndex: false)
    }

    /// ``pack(before:references:options:)`` of a storage nothing else uses,
    /// closed when the pack is over, whatever its outcome: what
    /// `zodbfs pack STORE` does.
    ///
    /// The storage's index is let go of for the pack, which builds its own
    /// (a pack that scans needs none; one that skips garbage drops it after
    /// indexing): ZODB's pack holds the storage's index, the pack-time index
    /// and the new one at once, and on a store of millions of small objects
    /// the storage's is the largest of the three. Loads and commits cannot
    /// run meanwhile, hence the close. A pack that swapped leaves the
    /// packed file's index in place, and the close saves it unless the pack
    /// did; any other outcome leaves the storage's index emptied, and the
    /// close leaves `Data.fs.index` as it was. It also keeps the C library
    /// returning large freed blocks to the system for the rest of the
    /// process (``systemReturnLargeFreesToSystem()``), as befits a process
    /// that packs and ends.
    public func packAndClose(before stop: TID, references: ReferenceFinder, options: PackOptions = PackOptions()) throws(StorageError) -> PackResult {
        var swapped = false
        defer { close(savingIndex: swapped) }
        systemReturnLargeFreesToSystem()
        let result = try runExclusively(stop: stop, references: references, options: options, releasingIndex: true)
        swapped = result.swapped
        return result
    }

    /// Runs the pack unless the storage is read-only, closed or packing already.
    private func runExclusively(stop: TID, references: ReferenceFinder, options: PackOptions, releasingIndex: Bool) throws(StorageError) -> PackResult {
        guard !isReadOnly else { throw .readOnly }
        try state.withLock { s throws(StorageError) in
            guard !s.isClosed else { throw .closed(path: path) }
            guard !s.isPacking else { throw .packInProgress(path: path) }
            s.isPacking = true
        }
        defer { state.withLock { $0.isPacking = false } }
        return try runPack(stop: stop, references: references, options: options, releasingIndex: releasingIndex)
    }

    private func runPack(stop: TID, references: ReferenceFinder, options: PackOptions, releasingIndex: Bool) throws(StorageError) -> PackResult {
        // The storage's index is taken only by a pack that builds its own
        // from it, and let go once it has: held, it would be copied whole by
        // the first commit during the pack.
        var storageIndex: ObjectIndex?
        let (file, snapshotEnd, lastTID, objectsBefore) = try state.withLock { s throws(StorageError) in
            guard !s.isClosed else { throw .closed(path: path) }
            if options.skipsGarbage(objects: s.index.count, bytes: s.end) { storageIndex = s.index }
            let taken = (s.file, s.end, s.lastTID, s.index.count)
            if releasingIndex { s.index = ObjectIndex() }
            return taken
        }
        let skipsGarbage = storageIndex != nil
        var result = PackResult(
            swapped: false, note: nil, stop: stop, sizeBefore: snapshotEnd, sizeAfter: snapshotEnd,
            objectsBefore: objectsBefore, objectsAfter: objectsBefore, objectsRemoved: 0, recordsBefore: 0, recordsAfter: 0,
            transactionsDuringPack: 0, seconds: 0)
        let input = try PackInput(file.descriptor, path: path, end: snapshotEnd, readsAround: skipsGarbage)
        var pacer = PackPacer(options: options, input: input)
        // Whatever happens, what pack brought into the page cache goes again.
        defer { pacer.releaseAll(input) }
        systemLowerIOPriority()

        var marker = PackMarker(stop: stop, garbageCollect: options.garbageCollect)
        pacer.begin(.indexing, from: 4, to: snapshotEnd)
        let redundancy = if let index = storageIndex {
            try marker.index(input, storageIndex: index, pacer: &pacer)
        } else {
            try marker.index(input, pacer: &pacer)
        }
        storageIndex = nil
        if redundancy != nil {
            result.note = "the storage was already packed to a later time, or nothing changed since the last pack"
            result.seconds = pacer.elapsed
            pacer.finish(input)
            return result
        }
        pacer.finish(input)
        pacer.begin(.marking, from: marker.packPosition, to: snapshotEnd, objectsTotal: marker.current.count)
        do {
            defer { input.readAround?.finish() }
            input.readAround?.beginWalk()
            try marker.mark(input, references: references, pacer: &pacer)
        }
        pacer.finish(input)
        result.recordsBefore = skipsGarbage ? nil : marker.recordsBeforePackTime + marker.recordsAfterPackTime
        let kept = skipsGarbage ? marker.keptPositions() : nil

        let writer = try PackWriter(
            path: path + ".pack", source: input, magic: input.map.bytes(at: 0, count: 4), spareCache: options.sparePageCache)
        var swapped = false
        defer { if !swapped { writer.discard() } }

        var copier = PackCopier(backpointerTargets: marker.backpointerTargets)
        let packPosition = marker.packPosition
        pacer.begin(.copying, from: 4, to: packPosition)
        try copier.copyKept(input, to: writer, marker: &marker, until: packPosition, kept: kept, pacer: &pacer)
        pacer.finish(input)
        try writer.flushRun()
        pacer.releaseInBackground(input, upTo: packPosition)
        if writer.position == packPosition {
            result.note = "nothing to free: every revision before the pack time is still needed"
            result.seconds = pacer.elapsed
            return result
        }

        pacer.begin(.copyingRecent, from: packPosition, to: snapshotEnd)
        _ = try copier.copyAll(input, to: writer, from: packPosition, until: snapshotEnd, rememberAll: false, pacer: &pacer)
        pacer.finish(input)
        result.objectsRemoved = objectsBefore - copier.index.count

        // Transactions committed while the pack ran, in rounds without the
        // commit lock, while each round is shorter than the one before (a
        // writer faster than the pack would otherwise keep it going).
        var copiedEnd = snapshotEnd
        var previousTID = lastTID
        var lastRound = UInt64.max
        for _ in 0..<8 {
            let (end, tid) = state.withLock { ($0.end, $0.lastTID) }
            guard end - copiedEnd > Self.finalRoundBytes, end - copiedEnd < lastRound else { break }
            lastRound = end - copiedEnd
            let later = try PackInput(file.descriptor, path: path, end: end, checked: copiedEnd, previousTID: previousTID)
            result.transactionsDuringPack += try copier.copyAll(later, to: writer, from: copiedEnd, until: end, rememberAll: true, pacer: &pacer)
            copiedEnd = end
            previousTID = tid
        }

        // The last step holds up commits: no rate limit there.
        pacer.begin(.swapping, from: 0, to: 0)
        pacer.unthrottle()
        let newEnd = try groupCommit.commitLock.withLock { _ throws(StorageError) -> UInt64 in
            // With the commit lock held no commit can start; wait for those
            // written to be fsynced and published, so the index is complete.
            try waitForNoPendingCommits()
            let end = state.withLock { $0.end }
            if end > copiedEnd {
                let later = try PackInput(file.descriptor, path: path, end: end, checked: copiedEnd, previousTID: previousTID)
                result.transactionsDuringPack += try copier.copyAll(later, to: writer, from: copiedEnd, until: end, rememberAll: true, pacer: &pacer)
            }
            try writer.finish()
            try swapFiles(writer: writer)
            swapped = true
            let newEnd = writer.position
            let packedFile = StorageFile(
                descriptor: writer.descriptor, generation: file.generation + 1,
                identity: try Self.identity(of: writer.descriptor, path))
            let retired = state.withLock { s -> StorageFile? in
                let older = s.retired
                s.retired = s.file
                s.file = packedFile
                s.index = copier.index
                s.end = newEnd
                s.lastTransactionPosition = copier.lastTransactionPosition
                return older
            }
            groupCommit.monitor.withLock { g in
                g.writtenEnd = newEnd
                g.durableEnd = newEnd
            }
            try? retired?.descriptor.close()
            return newEnd
        }
        // ZODB's _save_index after a pack; failing to is not fatal (the next
        // open scans).
        try? saveIndex()
        result.swapped = true
        result.sizeAfter = newEnd
        result.objectsAfter = copier.index.count
        result.recordsAfter = copier.recordsWritten
        result.seconds = pacer.elapsed
        pacer.endPhase()
        result.phaseSeconds = pacer.phaseTimes
        pacer.finish(nil)
        return result
    }

    /// Commits written after this much is left are copied under the commit lock.
    static let finalRoundBytes: UInt64 = 4 << 20

    /// Called with the commit lock held: returns once no transaction is
    /// written but unpublished. Fsync leaders publish without the commit lock
    /// (see ``GroupCommit``); a failed fsync needs it to roll back, so this
    /// never waits for that case while holding it — it fails the pack instead.
    private func waitForNoPendingCommits() throws(StorageError) {
        while true {
            let busy = groupCommit.monitor.withLock { g in !g.pending.isEmpty || g.syncing || g.staleTail != nil }
            if !busy { return }
            // The pending transactions' fsync is running or about to: a leader
            // is waiting in waitUntilDurable, which needs no commit lock to
            // publish. Give it a moment.
            let published = groupCommit.monitor.waitUntil(timeout: 10) { (g: inout GroupCommit.State) -> Bool? in
                g.pending.isEmpty && !g.syncing ? true : nil
            }
            if published == nil {
                throw .io(path: path, operation: "pack (waiting for pending commits to be fsynced)", errno: Errno.timedOut.rawValue)
            }
        }
    }

    /// Puts the packed file in place of `Data.fs`, keeping the original as
    /// `Data.fs.old`. See ``pack(before:references:options:)`` for why each
    /// step is where it is.
    private func swapFiles(writer: PackWriter) throws(StorageError) {
        let old = path + ".old"
        let directory = FilePath(path).removingLastComponent().string
        do {
            try? systemUnlink(old)
            try? systemUnlink(path + ".index")
            do {
                try systemLink(path, old)
            } catch {
                // No hard links here: ZODB's order (a crash between the two
                // renames leaves only Data.fs.old and Data.fs.pack).
                try systemRename(path, old)
            }
            try systemRename(writer.path, path)
            try systemSynchronizeDirectory(directory.isEmpty ? "." : directory)
        } catch {
            throw error.storageError(path: path, operation: "swap in the packed file")
        }
    }
}
