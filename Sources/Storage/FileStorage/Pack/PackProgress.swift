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
    /// Data records read and written; nil for records before when the pack
    /// skipped garbage unread (``PackReading/skippingGarbage``).
    public var recordsBefore: Int?
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
    /// What the pack reads of the file before the pack time.
    public var reading: PackReading = .automatic

    public init(garbageCollect: Bool = true, bytesPerSecond: Double? = nil, sparePageCache: Bool = true,
                reading: PackReading = .automatic, progress: (@Sendable (PackProgress) -> Void)? = nil) {
        self.garbageCollect = garbageCollect
        self.bytesPerSecond = bytesPerSecond
        self.sparePageCache = sparePageCache
        self.reading = reading
        self.progress = progress
    }

    /// Whether a pack of a file of `bytes` holding `objects` objects skips
    /// its garbage unread. Without garbage collection it never does: only a
    /// scan tells which current revisions delete their object.
    func skipsGarbage(objects: Int, bytes: UInt64) -> Bool {
        guard garbageCollect else { return false }
        switch reading {
        case .everything: return false
        case .skippingGarbage: return true
        case .automatic: return bytes >= UInt64(max(objects, 1)) * PackReading.largeObjectSize
        }
    }
}

/// What a pack reads of the file before the pack time. Both ways give the
/// same packed file, byte for byte.
public enum PackReading: Sendable {
    /// ZODB's way: scan every record, then walk what is reachable and copy
    /// it. Right for a store of many small objects (a Plone catalog): the
    /// scan reads the file in one sequential pass and leaves it in the page
    /// cache for the walk, which reads records all over it.
    case everything
    /// Read only what is kept, as far as the layout allows: the index from
    /// the storage's own (``PackMarker/index(_:storageIndex:pacer:)``), the
    /// walk reading 2 MiB around each record it reaches
    /// (``PackReadAround``), the copy passing over transactions with
    /// nothing kept. Right for a store of large files, where most bytes are
    /// `Pdata` chunks and garbage comes in whole uploads: a replaced or
    /// deleted file's chain is never read.
    case skippingGarbage
    /// ``skippingGarbage`` when objects average ``largeObjectSize`` or more.
    case automatic

    /// 32 KiB: a store of Zope files is mostly 64 KiB chunks; a catalog's
    /// objects are a few hundred bytes.
    public static let largeObjectSize: UInt64 = 32 << 10
}
