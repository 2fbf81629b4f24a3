/// The pickle of a data record as pack hands it to a ``ReferenceFinder``.
///
/// `Storage` never decodes pickles (DESIGN.md), so pack is given the
/// reference extraction as a closure, as ZODB's `FileStorage.pack` is given
/// `referencesf`. A `Pdata` record is 64 KiB of payload between a few dozen
/// bytes of pickle; pack offers large records as a head and a tail only, and
/// the finder answers nil when it needed a byte of the middle, in which case
/// pack reads the whole record and asks again.
public struct RecordPickle: Sendable {
    /// The first bytes of the record's data (class pickle, then state pickle).
    public var head: [UInt8]
    /// The last bytes; empty when ``head`` is the whole record.
    public var tail: [UInt8]
    /// The length of the whole record data.
    public var length: Int

    public init(head: [UInt8], tail: [UInt8], length: Int) {
        self.head = head
        self.tail = tail
        self.length = length
    }

    /// True when ``head`` holds every byte.
    public var isComplete: Bool { head.count == length }
}

/// The oids (as big-endian integers) a record refers to, in any order, or nil
/// when a sampled ``RecordPickle`` lacked bytes the answer depends on. Throws
/// when the pickle is malformed: pack then stops and leaves the storage as it
/// was, since a reference it cannot see could be an object it would delete.
public typealias ReferenceFinder = @Sendable (RecordPickle) throws -> [UInt64]?
