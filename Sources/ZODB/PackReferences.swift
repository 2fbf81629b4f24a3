import Pickle
import Storage

extension FileStorage {
    /// Packs with the Swift `referencesf` (``ReferenceScanner``): the
    /// ``FileStorage/pack(before:references:options:)`` of ZODB's
    /// `storage.pack(t, referencesf)`.
    public func pack(before stop: TID, options: PackOptions = PackOptions()) throws(StorageError) -> PackResult {
        try pack(before: stop, references: PackReferences.find, options: options)
    }

    /// ``FileStorage/packAndClose(before:references:options:)`` with the
    /// Swift `referencesf`.
    public func packAndClose(before stop: TID, options: PackOptions = PackOptions()) throws(StorageError) -> PackResult {
        try packAndClose(before: stop, references: PackReferences.find, options: options)
    }
}

/// The reference finder pack is given: ZODB's `referencesf` over a record,
/// scanning a sampled `Pdata` record without its payload.
public enum PackReferences {
    public static let find: ReferenceFinder = { (pickle: RecordPickle) throws -> [UInt64]? in
        let input = pickle.isComplete
            ? PickleInput(pickle.head)
            : PickleInput(head: pickle.head, tail: pickle.tail, totalLength: pickle.length)
        do throws(PickleError) {
            return try ReferenceScanner.references(in: input)
        } catch {
            if error.reason == .unavailable { return nil }
            throw error
        }
    }
}
