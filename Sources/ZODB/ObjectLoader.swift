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

    /// The oids a record refers to, as ZODB's `referencesf` lists them
    /// (weak and cross-database references excluded). Scans without
    /// building the value tree: this is what pack runs over every record.
    public static func references(in data: [UInt8]) throws(PickleError) -> [OID] {
        try ReferenceScanner.references(in: data).map { OID($0) }
    }
}
