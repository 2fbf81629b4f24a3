/// Faults a test injects into the commit path of a read-write
/// ``FileStorage``, to show that a failed write or fsync leaves the storage
/// as it was and usable, and to make group commit observable.
///
/// Real faults are tested too (a full tmpfs gives a real `ENOSPC`); these
/// cover what cannot be provoked on demand: an fsync that fails, a rollback
/// `ftruncate` that fails, a slow disk.
@_spi(Testing) public struct CommitFaults: Sendable {
    /// The next transaction write fails with `errno` once `afterBytes` bytes
    /// of the transaction have really been written (a short write). Used once.
    public var failWrite: (afterBytes: UInt64, errno: Int32)?
    /// The next commit fsync fails with this errno (after really running).
    /// Used once.
    public var failSync: Int32?
    /// The next rollback `ftruncate` fails with this errno. Used once.
    public var failTruncate: Int32?
    /// Every commit fsync sleeps this many seconds first, like a slow disk,
    /// so that commits arriving meanwhile pile up behind it.
    public var syncDelay: Double = 0

    public init() {}
}
