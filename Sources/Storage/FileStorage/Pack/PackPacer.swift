import Dispatch

/// The manners of a pack: it reports progress, keeps to a rate limit, and
/// does not flush the page cache the mount is serving from (seed 000's
/// complaints about ZODB's pack).
///
/// Page cache: at the start, ``PackPacer`` notes which pages of the input
/// were already cached (`mincore`). The phases read the input several times
/// (index, walk, copy), so what pack brings in stays cached while it runs —
/// dropping it behind each phase made the next one read the disk again, three
/// times what Python's pack reads — and once the pack is over, the pages it
/// brought in are dropped and the ones that were cached before — the mount's
/// working set — are left alone (those of the transactions before the pack
/// time already once they are copied, in the background). The note of what
/// was cached asks `cachestat` first, so a cold file costs no page-by-page
/// `mincore` (23 ms over 2.4 GB). The output is written back and dropped as
/// it goes (``PackWriter``). Its reads run at idle I/O priority, so the
/// mount's reads go first.
///
/// Memory: the input is memory-mapped, and mapped pages count as the
/// process's own. Behind a sequential phase the mapping lets go of what was
/// read (the pages stay cached), and the marking walk reads with `pread`
/// (``PackInput/readForWalk(at:oid:sample:)``), or through a mapping of its
/// own that it lets go every few MiB (``PackReadAround``), so pack's
/// footprint stays the indexes plus a constant.
///
/// Rate: bytes read plus bytes written are charged against
/// ``PackOptions/bytesPerSecond``; when pack runs ahead it sleeps.
struct PackPacer {
    private var options: PackOptions
    private let started: Double
    private var phase: PackProgress.Phase = .indexing
    private var phaseStart: UInt64 = 0
    private var phaseTotal: UInt64 = 0
    private var phaseStarted = 0.0
    /// The phases so far and how long each took.
    private(set) var phaseTimes: [PackPhaseTime] = []
    private var done: UInt64 = 0
    private var objects = 0
    private var objectsTotal = 0
    private var lastReport = 0.0
    private var charged: UInt64 = 0
    /// One bit per input page: set when the page was cached before pack ran.
    private var residentBefore: [UInt64] = []
    /// Input below this offset has been released in the current phase.
    private var releasedUpTo: UInt64 = 0
    /// Runs ``releaseInBackground(_:upTo:)``.
    private let dropper = DispatchQueue(label: "zodbfs.pack.drop")
    /// What ``tick(objects:read:)`` charged so far.
    private var readByTicks: UInt64 = 0

    static let releaseStep: UInt64 = 8 << 20
    static let reportInterval = 0.05

    init(options: PackOptions, input: PackInput?) {
        self.options = options
        self.started = systemWallClock()
        if options.sparePageCache, let input { noteResidency(input) }
    }

    var elapsed: Double { systemWallClock() - started }

    /// Starts a phase over the input bytes `[start, end)` (and, for the
    /// marking walk, up to `objectsTotal` objects).
    mutating func begin(_ phase: PackProgress.Phase, from start: UInt64, to end: UInt64, objectsTotal: Int = 0) {
        endPhase()
        phaseTimes.append(PackPhaseTime(phase: phase, seconds: 0))
        self.phase = phase
        self.objectsTotal = objectsTotal
        phaseStart = start
        phaseTotal = end > start ? end - start : 0
        done = 0
        objects = 0
        releasedUpTo = start
        phaseStarted = systemWallClock()
        report(force: true)
    }

    /// A sequential phase read up to `position`: progress, rate, and the
    /// unmapping of what it read behind it.
    mutating func advance(to position: UInt64, objects: Int, read: UInt64, input: PackInput?) {
        done = position > phaseStart ? position - phaseStart : 0
        self.objects = objects
        charge(read)
        if let input, position >= releasedUpTo + Self.releaseStep {
            input.map.forget(at: Int(releasedUpTo), count: Int(position - releasedUpTo))
            releasedUpTo = position
        }
        report(force: false)
    }

    /// A random-access phase made progress: objects, and in all `read`
    /// bytes so far (charged for the rate limit) when it counts them.
    mutating func tick(objects: Int, read: UInt64? = nil) {
        self.objects = objects
        if let read, read > readByTicks {
            charge(read - readByTicks)
            readByTicks = read
        }
        if objects & 1023 == 0 { report(force: false) }
    }

    /// The end of a phase: unmap what it read.
    mutating func finish(_ input: PackInput?) {
        if let input { input.map.forget(at: Int(releasedUpTo), count: Int(input.end - min(releasedUpTo, input.end))) }
        done = phaseTotal
        report(force: true)
    }

    /// The transactions before `end` are copied: what pack brought in of
    /// them is dropped on a thread of its own while the rest of the pack
    /// (the later transactions, the swap) goes on. Dropping the 1.2 GB a
    /// file-heavy pack reads took 20 ms after the swap; dropped while the
    /// copy still ran, it made the copy slower instead.
    ///
    /// Only the whole pages below `end` go: the page it ends in holds the
    /// header of the next transaction, which the copy reads next.
    func releaseInBackground(_ input: PackInput, upTo end: UInt64) {
        let spared = spared, below = end / UInt64(MappedFile.pageSize) * UInt64(MappedFile.pageSize)
        dropper.async { Self.release(input, from: 0, to: below, residentBefore: spared) }
    }

    /// The end of the pack: drop from the page cache what pack brought in
    /// (what the background drop has not, or what was read again since).
    func releaseAll(_ input: PackInput) {
        dropper.sync {}
        Self.release(input, from: 0, to: input.end, residentBefore: spared)
    }

    /// What was cached before the pack, when it leaves that cached
    /// (``PackOptions/sparePageCache``); nil when it only unmaps.
    private var spared: [UInt64]? { options.sparePageCache ? residentBefore : nil }

    /// Closes the running phase's time.
    mutating func endPhase() {
        if !phaseTimes.isEmpty { phaseTimes[phaseTimes.count - 1].seconds = systemWallClock() - phaseStarted }
    }

    /// Lifts the rate limit (for the step that holds the commit lock).
    mutating func unthrottle() {
        options.bytesPerSecond = nil
    }

    /// Bytes written (or read outside ``advance``), for the rate limit.
    mutating func charge(_ bytes: UInt64) {
        charged += bytes
        guard let rate = options.bytesPerSecond, rate > 0 else { return }
        let due = Double(charged) / rate - elapsed
        if due > 0.001 { systemSleep(seconds: due) }
    }

    private mutating func report(force: Bool) {
        guard let progress = options.progress else { return }
        let now = systemWallClock()
        guard force || now - lastReport >= Self.reportInterval else { return }
        lastReport = now
        var snapshot = PackProgress(phase: phase, bytesDone: min(done, phaseTotal), bytesTotal: phaseTotal, objects: objects,
                                    elapsed: now - started, phaseElapsed: now - phaseStarted)
        snapshot.objectsTotal = objectsTotal
        progress(snapshot)
    }

    private mutating func noteResidency(_ input: PackInput) {
        let pages = input.map.residentPages(at: 0, count: input.map.count)
        residentBefore = [UInt64](repeating: 0, count: (pages.count + 63) / 64)
        for (i, resident) in pages.enumerated() where resident { residentBefore[i >> 6] |= 1 << UInt64(i & 63) }
    }

    private static func wasResident(_ page: Int, in residentBefore: [UInt64]) -> Bool {
        let word = page >> 6
        return word < residentBefore.count && residentBefore[word] & (1 << UInt64(page & 63)) != 0
    }

    /// Unmaps `[from, to)` and drops from the cache the pages of it that
    /// were not cached before the pack (`residentBefore`; nil: unmap only).
    private static func release(_ input: PackInput, from: UInt64, to: UInt64, residentBefore: [UInt64]?) {
        guard to > from else { return }
        input.map.forget(at: Int(from), count: Int(to - from))
        guard let residentBefore else { return }
        let page = MappedFile.pageSize
        var first = Int(from) / page
        let last = (Int(min(to, input.end)) + page - 1) / page
        while first < last {
            while first < last && wasResident(first, in: residentBefore) { first += 1 }
            var runEnd = first
            while runEnd < last && !wasResident(runEnd, in: residentBefore) { runEnd += 1 }
            if runEnd > first { input.map.dropFromCache(at: first * page, count: (runEnd - first) * page) }
            first = runEnd
        }
    }
}
