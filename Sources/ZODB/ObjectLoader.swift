import Pickle
import Storage

/// Loads and decodes objects from a storage: the ZODB layer's read side, a
/// connection without a cache (FS keeps its own per-revision caches, keyed
/// by tid, so it can drop exactly what a new transaction changed).
public struct ObjectLoader: Sendable {
    public let storage: any ObjectStorage

    public init(storage: any ObjectStorage) {
        self.storage = storage
    }

    public func load(_ oid: OID) throws(RecordError) -> ObjectRecord {
        let loaded: (data: [UInt8], tid: TID)
        do {
            loaded = try storage.load(oid)
        } catch {
            throw .storage(error)
        }
        return try ObjectRecord(oid: oid, tid: loaded.tid, data: loaded.data)
    }

    /// The revision current before `tid` (ZODB `loadBefore`), decoded.
    public func load(_ oid: OID, before tid: TID) throws(RecordError) -> ObjectRecord? {
        let loaded: (data: [UInt8], start: TID, end: TID?)?
        do {
            loaded = try storage.loadBefore(oid, before: tid)
        } catch {
            throw .storage(error)
        }
        guard let loaded else { return nil }
        return try ObjectRecord(oid: oid, tid: loaded.start, data: loaded.data)
    }

    /// The revision of `oid` that was current when transaction `snapshot`
    /// committed: what a ZODB `Connection` whose transaction began then
    /// reads (it loads with `loadBefore(oid, before)` once anything newer
    /// exists). A change that reads several objects — the root, nodes and a
    /// bucket of one BTree — must read them all as of one transaction:
    /// reading the root before another client split a bucket and the
    /// bucket after would put a key where the root does not route to it,
    /// and the serial checks of the records written would not notice.
    ///
    /// The current revision serves when it is not newer than `snapshot`:
    /// nothing changed it between its commit and the load, which came after
    /// `snapshot`. An object created after `snapshot` is not part of that
    /// state; asking for one means the change must be built again, so it is
    /// reported as a conflict.
    public func load(_ oid: OID, asOf snapshot: TID) throws(RecordError) -> ObjectRecord {
        try revision(of: try load(oid), asOf: snapshot)
    }

    /// ``load(_:asOf:)`` for a caller that has the current revision already.
    public func revision(of current: ObjectRecord, asOf snapshot: TID) throws(RecordError) -> ObjectRecord {
        if current.tid <= snapshot { return current }
        guard let earlier = try load(current.oid, before: TID(rawValue: snapshot.rawValue + 1)) else {
            throw .storage(.conflict(oid: current.oid, expected: nil, actual: current.tid))
        }
        return earlier
    }

    /// The oids a record refers to, as ZODB's `referencesf` lists them
    /// (weak and cross-database references excluded). Scans without
    /// building the value tree: this is what pack runs over every record.
    public static func references(in data: [UInt8]) throws(PickleError) -> [OID] {
        try ReferenceScanner.references(in: data).map { OID($0) }
    }
}
