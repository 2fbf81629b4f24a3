import SystemPackage

/// A piece of a record's pickle: bytes in memory, or a range of another file
/// (a spool file) that the commit copies into `Data.fs` without holding it
/// in memory.
public enum PayloadSegment: Sendable {
    case bytes([UInt8])
    /// `length` bytes of `FileDescriptor` starting at `offset`, read with
    /// `copy_file_range` or `pread`. The descriptor must stay open and the
    /// range unchanged until ``FileStorage/commit(_:metadata:)`` returns;
    /// a file that ends before the range does fails the commit.
    case file(FileDescriptor, offset: Int64, length: Int)

    /// The number of bytes the segment adds to the pickle.
    public var length: Int {
        switch self {
        case .bytes(let bytes): bytes.count
        case .file(_, _, let length): length
        }
    }
}

/// One object revision to commit: a data record of the transaction
/// (ZODB's `store(oid, oldserial, data, …)`).
public struct PendingRecord: Sendable {
    public var oid: OID
    /// The serial the new revision replaces (`oldserial`): nil when the
    /// object must be new — not in the index — otherwise it must be the tid of
    /// the object's current record, else the commit fails with
    /// ``StorageError/conflict(oid:expected:actual:)``. Unlike ZODB no
    /// conflict resolution is tried.
    public var expectedSerial: TID?
    /// The record pickle (class pickle and state pickle), in order. Its total
    /// length must not be 0: a zero `plen` means a backpointer in FS30.
    public var segments: [PayloadSegment]

    public init(oid: OID, expectedSerial: TID?, segments: [PayloadSegment]) {
        self.oid = oid
        self.expectedSerial = expectedSerial
        self.segments = segments
    }

    /// The pickle's length (`plen`).
    public var payloadLength: Int { segments.reduce(0) { $0 + $1.length } }
}
