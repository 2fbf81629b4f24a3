/// What the layers above need of a ZODB storage, whichever kind it is: a
/// ``FileStorage`` opened here, or a storage reached through a ZEO server
/// (the `ZEO` target). It is ZODB's `IStorage` reduced to what a filesystem
/// uses — current loads, `loadBefore`, new oids, one-call two-phase commit —
/// plus ``poll()``, how a mount learns what other processes committed.
///
/// Records are bytes here: decoding is the ZODB layer's business. What only
/// a FileStorage can do — serve payloads straight from Data.fs positions,
/// pack locally, back up in repozo's format — stays on ``FileStorage`` and
/// is reached by a cast where the layers above offer it.
public protocol ObjectStorage: AnyObject, Sendable {
    /// How the storage is named in messages and in `.zodbfs/info`: the
    /// Data.fs path, or the ZEO server's address.
    var name: String { get }
    var isReadOnly: Bool { get }
    /// The tid of the last transaction this client knows of.
    var lastTransaction: TID { get }
    /// Bytes the storage occupies (for `statfs`).
    var size: UInt64 { get }
    /// Objects in the storage (for `statfs`).
    var objectCount: Int { get }
    /// Whether processes other than this one commit to the storage while
    /// it is open, so that ``poll()`` is worth calling: a read-only
    /// FileStorage that Zope may append to, or any ZEO storage.
    var seesOtherWriters: Bool { get }
    /// `key: value` lines describing the storage and its connection, for
    /// `.zodbfs/info`.
    var statusLines: [String] { get }

    /// The current revision of `oid`: its record pickle and its serial.
    func load(_ oid: OID) throws(StorageError) -> (data: [UInt8], tid: TID)
    /// The revision current before `tid` (ZODB `loadBefore`), nil if there was none.
    func loadBefore(_ oid: OID, before tid: TID) throws(StorageError) -> (data: [UInt8], start: TID, end: TID?)?
    /// The serial of `oid`'s current revision, nil if there is no such object.
    func currentSerial(_ oid: OID) throws(StorageError) -> TID?
    func newOIDs(_ count: Int) throws(StorageError) -> [OID]
    /// Commits one transaction and returns once it is durable; throws
    /// ``StorageError/conflict(oid:expected:actual:)`` without changing
    /// anything when an `expectedSerial` is not the current one.
    func commit(_ records: [PendingRecord], metadata: TransactionMetadata) throws(StorageError) -> CommitResult
    /// Transactions committed by others since the last call, oldest first.
    func poll() throws(StorageError) -> [TransactionSummary]
    /// Whether every load is a round trip across a network, so that asking
    /// for records ahead of need (``prefetch(_:)``) pays. False by default.
    var loadsAreRemote: Bool { get }
    /// A hint that `oids` will be loaded soon: a storage across a network
    /// starts fetching them; one on a local disk has nothing to gain.
    func prefetch(_ oids: [OID])
    /// Ends the storage's use: what must be saved is saved (a FileStorage's
    /// index), connections are closed. Later calls fail.
    func close()
}

extension ObjectStorage {
    public var loadsAreRemote: Bool { false }
    public func prefetch(_ oids: [OID]) {}
}

extension FileStorage: ObjectStorage {
    public var name: String { path }

    /// Only a read-only open can have company: a read-write one holds
    /// `Data.fs.lock`.
    public var seesOtherWriters: Bool { isReadOnly }

    public var statusLines: [String] {
        ["storage: \(path)", "format: \(magic)", "size: \(size)", "objects: \(objectCount)"]
    }
}

/// A storage that packs elsewhere: a ZEO server packs its own file when a
/// client asks, as `zeopack` does; the client sees only the start and the end.
public protocol ServerPackedStorage: ObjectStorage {
    /// Packs as of `time` (seconds since the epoch); returns when done.
    func pack(before time: Double) throws(StorageError)
}
