/// Where a running pack is, for the status file and the progress bar.
///
/// The phases follow ZODB's `FileStoragePacker` (zodb_formats.md §3.2); the
/// byte counts of each phase run over the part of Data.fs it reads, so
/// `bytesDone / bytesTotal` is a fair fraction and a rate over it a fair ETA.
public struct PackProgress: Sendable, Equatable {
    public enum Phase: String, Sendable, Equatable {
        /// `buildPackIndex`: which revision of each oid is current at the pack time.
        case indexing
        /// `findReachable`: the walk from the root, then the backpointers of later transactions.
        case marking
        /// `copyToPacktime`: the reachable, current revisions go to `Data.fs.pack`.
        case copying
        /// `copyRest`: transactions after the pack time, including those
        /// committed while the pack ran.
        case copyingRecent = "copying recent"
        /// fsync, rename, new index.
        case swapping
    }

    public var phase: Phase
    /// Bytes of the phase's input done and in all.
    public var bytesDone: UInt64
    public var bytesTotal: UInt64
    /// Objects: current at the pack time (indexing), reached (marking), or
    /// records copied (copying).
    public var objects: Int
    /// While marking: the objects current at the pack time, which the walk
    /// reaches at most (its progress has no byte count); 0 in other phases.
    public var objectsTotal: Int = 0
    /// Seconds since the pack started.
    public var elapsed: Double
    /// Seconds since this phase started: the phases move at different
    /// speeds, so a rate and an ETA are per phase.
    public var phaseElapsed: Double

    public init(phase: Phase, bytesDone: UInt64, bytesTotal: UInt64, objects: Int, elapsed: Double, phaseElapsed: Double) {
        self.phase = phase
        self.bytesDone = bytesDone
        self.bytesTotal = bytesTotal
        self.objects = objects
        self.elapsed = elapsed
        self.phaseElapsed = phaseElapsed
    }
}

/// What a pack did.
public struct PackResult: Sendable, Equatable {
    /// False when there was nothing to free (the file is as it was, as when
    /// ZODB's pack ends early: "pack freed nothing" or a redundant pack).
    public var swapped: Bool
    /// Why nothing was swapped, when ``swapped`` is false.
    public var note: String?
    /// The pack time as a tid: revisions current at it are kept.
    public var stop: TID
    public var sizeBefore: UInt64
    public var sizeAfter: UInt64
    /// Objects the index had when the pack started and has after it
    /// (counting deleted ones, as `len(storage)`); the second includes
    /// objects created while the pack ran.
    public var objectsBefore: Int
    public var objectsAfter: Int
    /// Objects of the first count that are gone.
    public var objectsRemoved: Int
    /// Data records read and written.
    public var recordsBefore: Int
    public var recordsAfter: Int
    /// Transactions committed while the pack ran, copied at the end.
    public var transactionsDuringPack: Int
    public var seconds: Double
    /// How long each phase took, in order.
    public var phaseSeconds: [PackPhaseTime] = []
}

/// The duration of one phase of a pack.
public struct PackPhaseTime: Sendable, Equatable {
    public var phase: PackProgress.Phase
    public var seconds: Double
}

/// How a pack runs.
public struct PackOptions: Sendable {
    /// Walk references from the root and drop what is unreachable (ZODB's
    /// `pack_gc`, on by default); off keeps every current revision.
    public var garbageCollect = true
    /// At most this many bytes per second read and written together; nil for
    /// no limit (`--pack-rate`).
    public var bytesPerSecond: Double?
    /// Drop from the page cache what pack reads and writes, except pages of
    /// Data.fs that were cached before it read them (the mount's working set).
    public var sparePageCache = true
    /// Called with the progress now and then (at most every 50 ms) from the
    /// packing thread.
    public var progress: (@Sendable (PackProgress) -> Void)?

    public init(garbageCollect: Bool = true, bytesPerSecond: Double? = nil, sparePageCache: Bool = true,
                progress: (@Sendable (PackProgress) -> Void)? = nil) {
        self.garbageCollect = garbageCollect
        self.bytesPerSecond = bytesPerSecond
        self.sparePageCache = sparePageCache
        self.progress = progress
    }
}
