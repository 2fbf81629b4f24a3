import SystemPackage

/// The write side of a read-write ``FileStorage``: the commit lock, the
/// transactions written but not yet durable, the fsync they share, and the
/// oid allocator.
///
/// ## Concurrency
///
/// Three locks, always taken in this order and never the other way:
///
/// 1. `commitLock` (a `Guarded` lock) serialises the writing of transactions, as
///    ZODB's `_commit_lock` does from `tpc_begin` to `tpc_finish`. A commit
///    holds it while it checks its expected serials, chooses its tid and its
///    position (the written end), writes header, data records, trailer and
///    status byte with `pwrite`, and registers the transaction as pending.
///    It does *not* hold it while waiting for the fsync.
/// 2. `monitor` (a ``Monitor``: mutex plus condition variable) guards the
///    ``State`` below: everything between the published end and the written
///    end — the pending transactions and an index of their records, the
///    written end, the last tid handed out, the oid allocator, whether an
///    fsync is running, the outcome of failed ones. It is held briefly and
///    never during I/O.
/// 3. `FileStorage.state` guards what readers see: the index, the end, the
///    last tid. Only complete, fsynced transactions are ever published there,
///    in file order, so a reader sees a transaction whole or not at all, and
///    never one that a crash could take away.
///
/// ### Group commit (leader/follower)
///
/// After writing, a commit waits in the monitor until its sequence number is
/// covered by a completed fsync. If no fsync is running, the waiter becomes
/// the *leader*: it marks one as running, takes the newest written sequence
/// as its target, leaves the monitor and calls `fsync`. Meanwhile later
/// commits take the commit lock, write their transactions (status `' '`
/// included) behind the others and wait as *followers*. When the fsync
/// returns, the leader publishes every pending transaction up to its target
/// into `state`, clears the running mark and wakes everyone; the covered
/// ones return, and one of the rest leads the next fsync, which covers all
/// written during the first. N commits arriving together thus cost one or
/// two fsyncs, and no commit returns before an fsync that *started after
/// its write completed*.
///
/// ### Failures
///
/// - A write error (`ENOSPC`, `EIO`, a short write) rolls back only its own
///   transaction: `ftruncate` to its start, which is the end of the ones
///   before it, still pending or published. Nothing else changes.
/// - An fsync error fails every pending transaction: those written after
///   the unsynced ones depend on them (`prev` pointers, serial checks), and
///   after a failed fsync the kernel may have dropped the dirty pages. The
///   leader takes the commit lock (after leaving the monitor, keeping the
///   order), truncates the file back to the published end, records the error
///   for every pending sequence and wakes their commits, which throw it.
///   The index and the end never saw them.
/// - If a rollback `ftruncate` itself fails, the bytes past the written end
///   are stale: the next commit trims them first (and fails if it cannot),
///   so a file never ends in garbage after a commit that returned.
///
/// Tids are chosen under the commit lock from the last tid *written*, so
/// they increase in file order even across pending transactions, and are
/// never reused after a failure.
///
/// Serials are checked against pending transactions too (a commit that
/// builds on a record still waiting for its fsync is a conflict, as it
/// would be in ZODB once that one finished). Such a conflict is thrown only
/// after the pending transaction is durable or failed: readers see the
/// published state only, so a caller that rebuilds and retries at once would
/// otherwise read the same old serial and conflict again for as long as the
/// fsync takes.
final class GroupCommit: Sendable {
    /// A record of a pending transaction: where the oid's new revision is.
    struct WrittenRecord: Sendable {
        var oid: OID
        var position: UInt64
    }

    /// A transaction written to the file (status `' '`) but not yet covered
    /// by an fsync.
    struct WrittenTransaction: Sendable {
        var sequence: UInt64
        var tid: TID
        var position: UInt64
        /// Just past its trailer.
        var end: UInt64
        var records: [WrittenRecord]
    }

    struct State: Sendable {
        /// Just past the last written transaction: where the next one goes.
        var writtenEnd: UInt64
        /// Just past the last published (fsynced) transaction.
        var durableEnd: UInt64
        /// The tid of the last written transaction: the next tid is later.
        var lastWrittenTID: TID
        /// The largest oid in use or handed out by `newOIDs`.
        var lastOID: OID
        /// Written, not yet fsynced, in file order.
        var pending: [WrittenTransaction] = []
        /// The newest pending record of each oid, its tid and the sequence
        /// of its transaction.
        var pendingIndex: [OID: (position: UInt64, tid: TID, sequence: UInt64)] = [:]
        /// The sequence number the next written transaction gets.
        var nextSequence: UInt64 = 1
        /// Every transaction up to this sequence is fsynced and published.
        var durableSequence: UInt64 = 0
        /// Failed sequences and their error, until their commit picks it up.
        var failures: [UInt64: StorageError] = [:]
        /// True while a leader runs an fsync (or rolls back after one failed).
        var syncing = false
        /// The fsyncs of `Data.fs` commits issued.
        var syncCount = 0
        /// A rollback that could not truncate: the file must be cut here
        /// before the next write.
        var staleTail: UInt64?
        var faults = CommitFaults()
    }

    let commitLock = Guarded<Void>(())
    let monitor: Monitor<State>
    let clock: CommitClock

    init(end: UInt64, lastTID: TID, largestOID: OID?, clock: CommitClock) {
        monitor = Monitor(State(writtenEnd: end, durableEnd: end, lastWrittenTID: lastTID, lastOID: largestOID ?? .root))
        self.clock = clock
    }
}

extension FileStorage {
    private enum SyncStep {
        case done
        case failed(StorageError)
        case lead(target: UInt64, fault: Int32?, delay: Double)
    }

    /// Returns once the transaction `sequence` is fsynced and published, or
    /// throws the error of the fsync that failed it. See ``GroupCommit``.
    func waitUntilDurable(_ sequence: UInt64) throws(StorageError) {
        while true {
            let step = groupCommit.monitor.waitUntil { (g: inout GroupCommit.State) -> SyncStep? in
                if let error = g.failures.removeValue(forKey: sequence) { return .failed(error) }
                if g.durableSequence >= sequence { return .done }
                guard !g.syncing else { return nil }
                g.syncing = true
                g.syncCount += 1
                defer { g.faults.failSync = nil }
                return .lead(target: g.nextSequence - 1, fault: g.faults.failSync, delay: g.faults.syncDelay)
            }
            switch step {
            case .done:
                return
            case .failed(let error):
                throw error
            case .lead(let target, let fault, let delay):
                systemSleep(seconds: delay)
                var failure: Errno?
                do {
                    try file.synchronize()
                } catch {
                    failure = error
                }
                if let fault { failure = Errno(rawValue: fault) }
                if let failure {
                    failPending(failure.storageError(path: path, operation: "fsync"))
                } else {
                    publish(through: target)
                }
                groupCommit.monitor.broadcast()
            }
        }
    }

    /// After a successful fsync: moves the pending transactions up to
    /// `target` into the index and the end that readers see, in file order.
    private func publish(through target: UInt64) {
        groupCommit.monitor.withLock { g in
            let count = g.pending.prefix { $0.sequence <= target }.count
            let batch = g.pending[..<count]
            if let last = batch.last {
                state.withLock { s in
                    for transaction in batch {
                        for record in transaction.records { s.index.updateValue(record.position, forKey: record.oid) }
                    }
                    s.end = last.end
                    s.lastTID = last.tid
                    s.lastTransactionPosition = last.position
                }
                for transaction in batch {
                    for record in transaction.records where g.pendingIndex[record.oid]?.position == record.position {
                        g.pendingIndex[record.oid] = nil
                    }
                }
                g.durableEnd = last.end
                g.pending.removeFirst(count)
            }
            g.durableSequence = target
            g.syncing = false
        }
    }

    /// After a failed fsync: cuts every pending transaction off the file and
    /// fails their commits with `error`.
    private func failPending(_ error: StorageError) {
        groupCommit.commitLock.withLock { _ in
            // No writer runs (commit lock) and nobody publishes (syncing is
            // set), so the pending list cannot change under us.
            let durableEnd = groupCommit.monitor.withLock { g in
                defer { g.faults.failTruncate = nil }
                return (g.durableEnd, g.faults.failTruncate)
            }
            let trimmed = truncateFile(to: durableEnd.0, fault: durableEnd.1)
            groupCommit.monitor.withLock { g in
                for transaction in g.pending { g.failures[transaction.sequence] = error }
                g.pending.removeAll()
                g.pendingIndex.removeAll()
                g.writtenEnd = g.durableEnd
                if !trimmed { g.staleTail = g.durableEnd }
                g.syncing = false
            }
        }
    }

    /// Returns once the pending transaction `sequence` is published or failed.
    func waitUntilResolved(_ sequence: UInt64) {
        groupCommit.monitor.waitUntil { (g: inout GroupCommit.State) -> Bool? in
            (g.pending.first.map { $0.sequence > sequence } ?? true) ? true : nil
        }
    }

    /// `ftruncate` for a rollback; false when it failed (the caller records a
    /// stale tail for the next commit to trim).
    func truncateFile(to size: UInt64, fault: Int32?) -> Bool {
        if fault != nil { return false }
        do {
            try file.truncate(to: size)
            return true
        } catch {
            return false
        }
    }
}
