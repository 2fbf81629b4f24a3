/// What a long backup, restore or verify reports as it goes, a chunk at a
/// time: the phase it is in and how many of that phase's bytes are done.
/// `total` is 0 when the phase's size is not known in advance.
public struct BackupProgress: Sendable, Equatable {
    public var phase: String
    public var done: UInt64
    public var total: UInt64

    public init(phase: String, done: UInt64, total: UInt64) {
        self.phase = phase
        self.done = done
        self.total = total
    }
}
