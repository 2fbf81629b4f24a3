/// The manners of a pack: it reports progress, keeps to a rate limit, and
/// does not flush the page cache the mount is serving from (seed 000's
/// complaints about ZODB's pack).
///
/// Page cache: at the start, ``PackPacer`` notes which pages of the input
/// were already cached (`mincore`). As each phase moves past a region, the
/// pages pack itself brought in are dropped again, and the ones that were
/// cached before — the mount's working set — are left alone. The output is
/// written back and dropped as it goes (``PackWriter``).
///
/// Memory: the input is memory-mapped, and mapped pages count as the
/// process's own. Behind a sequential phase the mapping lets go of what was
/// read (the pages stay cached), and the marking walk reads with `pread`
/// (``PackInput/readForWalk(at:oid:sample:)``), so pack's footprint stays
/// the indexes plus a constant.
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
    private var done: UInt64 = 0
    private var objects = 0
    private var objectsTotal = 0
    private var lastReport = 0.0
    private var charged: UInt64 = 0
    /// One bit per input page: set when the page was cached before pack ran.
    private var residentBefore: [UInt64] = []
    /// Input below this offset has been released in the current phase.
    private var releasedUpTo: UInt64 = 0

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
    /// release of what it read behind it.
    mutating func advance(to position: UInt64, objects: Int, read: UInt64, input: PackInput?) {
        done = position > phaseStart ? position - phaseStart : 0
        self.objects = objects
        charge(read)
        if let input, position >= releasedUpTo + Self.releaseStep {
            release(input, from: releasedUpTo, to: position)
            releasedUpTo = position
        }
        report(force: false)
    }

    /// A random-access phase made progress (objects only).
    mutating func tick(objects: Int) {
        self.objects = objects
        if objects & 1023 == 0 { report(force: false) }
    }

    /// The end of a phase: release everything it read that was not cached before.
    mutating func finish(_ input: PackInput?) {
        if let input { release(input, from: releasedUpTo, to: input.end) }
        done = phaseTotal
        report(force: true)
    }

    /// Releases the whole input range that pack brought into the cache (after
    /// a random-access phase).
    mutating func releaseAll(_ input: PackInput) {
        release(input, from: 0, to: input.end)
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

    private func wasResident(_ page: Int) -> Bool {
        let word = page >> 6
        return word < residentBefore.count && residentBefore[word] & (1 << UInt64(page & 63)) != 0
    }

    /// Unmaps `[from, to)` and drops from the cache the pages of it that
    /// were not cached before the pack.
    private func release(_ input: PackInput, from: UInt64, to: UInt64) {
        guard to > from else { return }
        input.map.forget(at: Int(from), count: Int(to - from))
        guard options.sparePageCache else { return }
        let page = MappedFile.pageSize
        var first = Int(from) / page
        let last = (Int(min(to, input.end)) + page - 1) / page
        while first < last {
            while first < last && wasResident(first) { first += 1 }
            var runEnd = first
            while runEnd < last && !wasResident(runEnd) { runEnd += 1 }
            if runEnd > first { input.map.dropFromCache(at: first * page, count: (runEnd - first) * page) }
            first = runEnd
        }
    }
}
