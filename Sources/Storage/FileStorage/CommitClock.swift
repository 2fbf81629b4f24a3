/// Where commit times come from: seconds since the Unix epoch, as Python's
/// `time.time()` gives them to `BaseStorage.tpc_begin`.
///
/// A commit's tid is `TID(timeIntervalSince1970: clock.now()).laterThan(last)`,
/// so tids increase strictly whatever the clock does; tests inject a clock
/// that steps back to show it.
public struct CommitClock: Sendable {
    public var now: @Sendable () -> Double

    public init(_ now: @escaping @Sendable () -> Double) {
        self.now = now
    }

    /// The system's wall clock (`clock_gettime(CLOCK_REALTIME)`).
    public static let system = CommitClock { systemWallClock() }
}
