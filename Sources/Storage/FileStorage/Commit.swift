import SystemPackage

/// Where a committed transaction landed.
public struct CommitResult: Sendable, Equatable {
    /// The transaction's tid: the serial of every record it wrote.
    public var tid: TID
    /// The position of its transaction header.
    public var position: UInt64
    /// Its `tlen`: the transaction occupies `position ..< position + length + 8`
    /// (the 8-byte trailer repeats `tlen`).
    public var length: UInt64
    /// Records the storage did not store as sent: a ZEO server resolved
    /// their conflict with another client's commit (`_p_resolveConflict`,
    /// named by `vote`), so what is stored merges both. A FileStorage
    /// opened here never resolves.
    public var resolved: Set<OID>

    public init(tid: TID, position: UInt64, length: UInt64, resolved: Set<OID> = []) {
        self.tid = tid
        self.position = position
        self.length = length
        self.resolved = resolved
    }
}

extension FileStorage {
    /// Allocates `count` new oids, as ZODB's `new_oid` does: counting up from
    /// the largest oid in use (the index's largest key when the storage was
    /// opened, raised by every commit), never handing one out twice while the
    /// storage is open. Unused oids are simply skipped, as in ZODB.
    ///
    /// - Throws: ``StorageError/readOnly``, ``StorageError/closed(path:)``,
    ///   ``StorageError/invalidTransaction(reason:)`` when the 64-bit oid
    ///   space is exhausted.
    public func newOIDs(_ count: Int) throws(StorageError) -> [OID] {
        guard !isReadOnly else { throw .readOnly }
        guard count > 0 else { return [] }
        _ = try currentEnd()  // fails when closed
        let first = try groupCommit.monitor.withLock { g throws(StorageError) -> UInt64 in
            let (last, overflow) = g.lastOID.rawValue.addingReportingOverflow(UInt64(count))
            guard !overflow else { throw .invalidTransaction(reason: "no oids left after \(g.lastOID.repr)") }
            defer { g.lastOID = OID(last) }
            return g.lastOID.rawValue + 1
        }
        return (0..<UInt64(count)).map { OID(first + $0) }
    }

    /// The serial of an object's current revision — the tid of its newest
    /// record, also when that record deletes it — or nil when the index does
    /// not know the oid. This is the `expectedSerial` a commit that replaces
    /// the object passes. Only committed (fsynced) transactions count.
    ///
    /// - Throws: ``StorageError/closed(path:)``, ``StorageError/corrupted(path:offset:reason:)``.
    public func currentSerial(_ oid: OID) throws(StorageError) -> TID? {
        let (position, end, file) = try state.withLock { state throws(StorageError) in
            guard !state.isClosed else { throw .closed(path: path) }
            return (state.index[oid], state.end, state.file)
        }
        guard let position else { return nil }
        return try readDataHeader(at: position, oid: oid, end: end, in: file.descriptor).header.tid
    }

    /// The fsyncs of `Data.fs` that commits issued since the open: fewer than
    /// the commits when group commit shared them.
    public var syncCount: Int { groupCommit.monitor.withLock { $0.syncCount } }

    /// Commits one transaction and returns once it is durable: ZODB's
    /// `tpc_begin` + `store`s + `tpc_vote` + `tpc_finish`, writing the same
    /// bytes ZODB 6 writes.
    ///
    /// Under the commit lock, before writing anything, every record's
    /// `expectedSerial` is checked against the current serial (pending
    /// transactions included); a mismatch throws
    /// ``StorageError/conflict(oid:expected:actual:)`` — once the
    /// transaction that holds the actual serial is durable, when it is still
    /// waiting for its fsync, so that a retry reads that serial. The tid is
    /// `TID(clock.now()).laterThan(last tid)`, so tids increase strictly even
    /// when the clock steps back. The transaction is then written at the end:
    /// the FS30 header (tid, final `tlen`, status `'c'`, user, description,
    /// extension), the data records (oid, tid, `prev` = the oid's previous
    /// position or 0, `tloc` = the header's position, `vlen` 0, `plen`, the
    /// pickle), the trailer, and last the status byte `' '` at
    /// `position + 16`. Then one fsync — shared with the commits that wrote
    /// meanwhile, see ``GroupCommit`` — and only then the index, ``size`` and
    /// ``lastTransaction`` move, so readers never see a transaction that a
    /// crash could still take away.
    ///
    /// ## Why no `Data.fs.tmp`
    ///
    /// ZODB stores records into `Data.fs.tmp` because it learns `tlen` only
    /// at vote time; here every segment declares its length, so the header
    /// with its final `tlen` goes first and the records stream straight into
    /// `Data.fs`. A crash is equivalent to one in ZODB's path: ZODB's
    /// `tpc_vote` also writes header (`'c'`), records and trailer to
    /// `Data.fs` without an fsync, and `tpc_finish` writes `' '` and then
    /// fsyncs, so before the fsync completes the disk may hold any prefix of
    /// those bytes in both cases. What a crash leaves at the tail is a
    /// transaction with status `'c'`, one shorter than its `tlen`, or fewer
    /// than 23 bytes — all of which ZODB's `read_index` and this storage's
    /// read-write open cut off (into `Data.fs.tr0`), back to the last
    /// transaction whose commit returned.
    ///
    /// ## Errors
    ///
    /// A failed write or fsync truncates the file back to where it was,
    /// leaves the index and the end unchanged, and throws
    /// ``StorageError/io(path:operation:errno:)`` with the errno (`ENOSPC`,
    /// `EIO`, …); the storage stays usable for the next commit.
    ///
    /// - Throws: ``StorageError/readOnly``, ``StorageError/closed(path:)``,
    ///   ``StorageError/conflict(oid:expected:actual:)``,
    ///   ``StorageError/invalidTransaction(reason:)``,
    ///   ``StorageError/io(path:operation:errno:)``,
    ///   ``StorageError/corrupted(path:offset:reason:)`` when a current
    ///   record cannot be read for the serial check.
    public func commit(_ records: [PendingRecord], metadata: TransactionMetadata) throws(StorageError) -> CommitResult {
        guard !isReadOnly else { throw .readOnly }
        let layout = try TransactionLayout(records: records, metadata: metadata)
        let outcome = try groupCommit.commitLock.withLock { _ throws(StorageError) -> WriteOutcome in
            try writeTransaction(records, layout: layout)
        }
        let written: GroupCommit.WrittenTransaction
        switch outcome {
        case .written(let transaction):
            written = transaction
        case .conflict(let error, let pendingSequence):
            // See GroupCommit: report it once the retry can see its cause.
            if let pendingSequence { waitUntilResolved(pendingSequence) }
            throw error
        }
        try waitUntilDurable(written.sequence)
        return CommitResult(tid: written.tid, position: written.position, length: layout.length)
    }

    /// What a commit needs to know, taken under the commit lock.
    private struct CommitView {
        var position: UInt64
        var lastTID: TID
        var publishedEnd: UInt64
        var staleTail: UInt64?
        var failWrite: (afterBytes: UInt64, errno: Int32)?
        /// Per record: the newest position of its oid (pending or published)
        /// and, for a pending one, its tid and transaction sequence.
        var current: [(position: UInt64?, pending: (tid: TID, sequence: UInt64)?)]
    }

    private enum WriteOutcome {
        case written(GroupCommit.WrittenTransaction)
        /// Nothing written; `pendingSequence` is the pending transaction that
        /// holds the serial the commit did not expect, if any.
        case conflict(StorageError, pendingSequence: UInt64?)
    }

    /// Checks, writes and registers one transaction. Runs under the commit
    /// lock, which keeps the pending-plus-published view stable: publishing
    /// only moves records from one to the other, and only a commit-lock
    /// holder removes pending ones.
    private func writeTransaction(_ records: [PendingRecord], layout: TransactionLayout) throws(StorageError) -> WriteOutcome {
        let view = try groupCommit.monitor.withLock { g throws(StorageError) -> CommitView in
            try state.withLock { s throws(StorageError) -> CommitView in
                guard !s.isClosed else { throw .closed(path: path) }
                let current = records.map { record -> (position: UInt64?, pending: (tid: TID, sequence: UInt64)?) in
                    if let pending = g.pendingIndex[record.oid] { return (pending.position, (pending.tid, pending.sequence)) }
                    return (s.index[record.oid], nil)
                }
                defer { g.faults.failWrite = nil }
                return CommitView(
                    position: g.writtenEnd, lastTID: g.lastWrittenTID, publishedEnd: s.end,
                    staleTail: g.staleTail, failWrite: g.faults.failWrite, current: current)
            }
        }

        if let stale = view.staleTail {
            guard truncateFile(to: stale, fault: nil) else {
                throw .io(path: path, operation: "ftruncate (trimming a failed commit)", errno: Errno.ioError.rawValue)
            }
            groupCommit.monitor.withLock { $0.staleTail = nil }
        }

        // ZODB's store(): the serial check, before anything is written.
        for (record, current) in zip(records, view.current) {
            var actual = current.pending?.tid
            if actual == nil, let position = current.position {
                actual = try readDataHeader(at: position, oid: record.oid, end: view.publishedEnd, in: file).header.tid
            }
            guard actual == record.expectedSerial else {
                return .conflict(
                    .conflict(oid: record.oid, expected: record.expectedSerial, actual: actual),
                    pendingSequence: current.pending?.sequence)
            }
        }

        // BaseStorage.tpc_begin: TimeStamp(now).laterThan(last).
        let tid = TID(timeIntervalSince1970: groupCommit.clock.now()).laterThan(view.lastTID)
        let position = view.position
        let end = position + layout.totalLength
        // Positions are 6 bytes in Data.fs.index (fsIndex).
        guard end < 1 << 48 else {
            throw .io(path: path, operation: "write (the storage would pass 256 TiB)", errno: Errno.fileTooLarge.rawValue)
        }

        do {
            try TransactionWriter.write(
                records, layout: layout, tid: tid, previous: view.current.map { $0.position ?? 0 },
                to: file, at: position, failAfter: view.failWrite)
        } catch {
            let fault = groupCommit.monitor.withLock { g in
                defer { g.faults.failTruncate = nil }
                return g.faults.failTruncate
            }
            if !truncateFile(to: position, fault: fault) {
                groupCommit.monitor.withLock { $0.staleTail = position }
            }
            throw .io(path: path, operation: error.operation, errno: error.errno.rawValue)
        }

        var recordPosition = position + layout.headerLength
        var written: [GroupCommit.WrittenRecord] = []
        written.reserveCapacity(records.count)
        for (record, pickleLength) in zip(records, layout.pickleLengths) {
            written.append(GroupCommit.WrittenRecord(oid: record.oid, position: recordPosition))
            recordPosition += UInt64(DataHeader.size) + pickleLength
        }
        return .written(groupCommit.monitor.withLock { g in
            let transaction = GroupCommit.WrittenTransaction(
                sequence: g.nextSequence, tid: tid, position: position, end: end, records: written)
            g.nextSequence += 1
            g.pending.append(transaction)
            for record in written { g.pendingIndex[record.oid] = (record.position, tid, transaction.sequence) }
            g.writtenEnd = end
            g.lastWrittenTID = tid
            // BaseStorage.set_max_oid: a stored oid above the counter raises it.
            if let largest = records.map(\.oid).max(), largest > g.lastOID { g.lastOID = largest }
            return transaction
        })
    }

    /// Sets the faults the next commits meet (tests only).
    @_spi(Testing) public func setCommitFaults(_ faults: CommitFaults) {
        groupCommit.monitor.withLock { $0.faults = faults }
    }
}
