// The FileStorage byte format (ZODB `FileStorage/format.py`). All integers are
// big-endian and unsigned; oids and tids are 8 raw bytes.
//
// File header
//   0   4  magic: "FS30" (ZODB on Python 3) or "FS21" (Python 2; same layout)
//
// Transaction record, starting at 4 and then at `pos + tlen + 8`
//   +0   8  tid            strictly increasing through the file (a decrease is only warned about)
//   +8   8  tlen           bytes from the txn start to the end of its last data record (no trailer)
//   +16  1  status         ' ' committed, 'p' packed, 'c' checkpoint (vote done, finish not), 'u' undone (legacy)
//   +17  2  ulen           user length
//   +19  2  dlen           description length
//   +21  2  elen           extension length (0, or a pickled dict)
//   +23  …  user, description, extension, then the data records
//   +tlen 8 tlen again     the "redundant transaction length"
//
// Data record
//   +0   8  oid
//   +8   8  tid            the transaction's tid
//   +16  8  prev           position of the previous record of this oid, 0 = none
//   +24  8  tloc           position of this record's transaction header
//   +32  2  vlen           version length: always 0 (versions went away in ZODB 3.9)
//   +34  8  plen           pickle length
//   +42  plen bytes of pickle, or, when plen == 0, an 8-byte backpointer:
//            back > 0: the data is that of the earlier record at `back` (undo, copy);
//            back == 0: the object does not exist in this revision ("George Bailey").
//
// The record length is 42 + (plen or 8).

/// The magic numbers a FileStorage starts with.
public enum FileStorageMagic {
    /// Written by ZODB on Python 3 (`ZODB._compat.FILESTORAGE_MAGIC`).
    public static let fs30: [UInt8] = Array("FS30".utf8)
    /// Written by ZODB on Python 2; the same record layout.
    public static let fs21: [UInt8] = Array("FS21".utf8)
}

/// The status byte of a transaction record.
public enum TransactionStatus {
    /// `' '`: committed.
    public static let committed = UInt8(ascii: " ")
    /// `'p'`: copied by a pack (the transaction is older than the pack time).
    public static let packed = UInt8(ascii: "p")
    /// `'c'`: checkpoint, written by `tpc_vote` and turned into `' '` by
    /// `tpc_finish`. At the tail it marks a commit that never finished.
    public static let checkpoint = UInt8(ascii: "c")
    /// `'u'`: undone, a legacy status whose data records readers skip.
    public static let undone = UInt8(ascii: "u")
}

/// The fixed 23-byte part of a transaction record (`>8sQcHHH`).
public struct TransactionHeader: Sendable, Equatable {
    /// The size of the fixed part.
    public static let size = 23

    public var tid: TID
    /// `tlen`: from the start of the header to the end of the last data
    /// record, excluding the 8-byte trailer that repeats it.
    public var length: UInt64
    /// One of the ``TransactionStatus`` bytes.
    public var status: UInt8
    public var userLength: UInt16
    public var descriptionLength: UInt16
    public var extensionLength: UInt16

    public init(tid: TID, length: UInt64, status: UInt8, userLength: UInt16, descriptionLength: UInt16, extensionLength: UInt16) {
        self.tid = tid
        self.length = length
        self.status = status
        self.userLength = userLength
        self.descriptionLength = descriptionLength
        self.extensionLength = extensionLength
    }

    /// Parses and validates the header of the transaction at `position`.
    ///
    /// - Parameters:
    ///   - bytes: at least ``size`` bytes starting with the header.
    ///   - position: the header's offset in the file, for error messages.
    ///   - path: the file, for error messages.
    /// - Throws: ``StorageError/corrupted(path:offset:reason:)`` when fewer
    ///   than 23 bytes are given, the status is not one of `' '`, `'p'`,
    ///   `'c'`, `'u'`, or `tlen` is shorter than the variable-length header
    ///   (ZODB's `checkTxn`, without the tid ordering).
    public init(parsing bytes: some Collection<UInt8>, at position: UInt64, path: String) throws(StorageError) {
        let raw = Array(bytes.prefix(Self.size))
        guard raw.count == Self.size else {
            throw .corrupted(path: path, offset: position, reason: "transaction header needs \(Self.size) bytes, found \(raw.count)")
        }
        self.init(raw, at: 0)
        guard [TransactionStatus.committed, TransactionStatus.packed, TransactionStatus.checkpoint, TransactionStatus.undone]
            .contains(status)
        else {
            throw .corrupted(path: path, offset: position, reason: "invalid transaction status \(statusDescription)")
        }
        guard length >= headerLength else {
            throw .corrupted(
                path: path, offset: position,
                reason: "transaction length \(length) is shorter than its header (\(headerLength) bytes)")
        }
    }

    /// Reads the fields without validating them (the scanner applies
    /// `read_index`'s rules itself). `buffer[index ..< index + 23]` must exist.
    @inline(__always)
    init(_ buffer: [UInt8], at index: Int) {
        tid = TID(rawValue: buffer.uint64BE(at: index))
        length = buffer.uint64BE(at: index + 8)
        status = buffer[index + 16]
        userLength = buffer.uint16BE(at: index + 17)
        descriptionLength = buffer.uint16BE(at: index + 19)
        extensionLength = buffer.uint16BE(at: index + 21)
    }

    /// The 23 bytes of the fixed part.
    public func serialized() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.size)
        bytes.appendBE(tid.rawValue)
        bytes.appendBE(length)
        bytes.append(status)
        bytes.appendBE(userLength)
        bytes.appendBE(descriptionLength)
        bytes.appendBE(extensionLength)
        return bytes
    }

    /// The fixed part plus user, description and extension: where the first
    /// data record starts, relative to the header.
    public var headerLength: UInt64 {
        UInt64(Self.size) + UInt64(userLength) + UInt64(descriptionLength) + UInt64(extensionLength)
    }

    /// The status byte, printable (`' '`, `'p'`, or `0x07`).
    var statusDescription: String {
        (0x20..<0x7f).contains(status) ? "'\(Character(Unicode.Scalar(status)))'" : "0x" + String(status, radix: 16)
    }
}

/// The fixed 42-byte part of a data record (`>8s8sQQHQ`).
public struct DataHeader: Sendable, Equatable {
    /// The size of the fixed part.
    public static let size = 42

    public var oid: OID
    /// The serial of this revision: the tid of its transaction.
    public var tid: TID
    /// `prev`: the position of the previous record of the same oid, 0 for none.
    public var previous: UInt64
    /// `tloc`: the position of the header of the transaction holding this record.
    public var transactionPosition: UInt64
    /// `vlen`: always 0 in files ZODB ≥ 3.9 can read.
    public var versionLength: UInt16
    /// `plen`: the pickle's length; 0 means an 8-byte backpointer follows instead.
    public var pickleLength: UInt64

    public init(oid: OID, tid: TID, previous: UInt64, transactionPosition: UInt64, versionLength: UInt16 = 0, pickleLength: UInt64) {
        self.oid = oid
        self.tid = tid
        self.previous = previous
        self.transactionPosition = transactionPosition
        self.versionLength = versionLength
        self.pickleLength = pickleLength
    }

    /// Parses and validates the header of the data record at `position`.
    ///
    /// - Throws: ``StorageError/corrupted(path:offset:reason:)`` when fewer
    ///   than 42 bytes are given or the version length is not 0 (ZODB's
    ///   `DataHeader` raises `ValueError` there).
    public init(parsing bytes: some Collection<UInt8>, at position: UInt64, path: String) throws(StorageError) {
        let raw = Array(bytes.prefix(Self.size))
        guard raw.count == Self.size else {
            throw .corrupted(path: path, offset: position, reason: "data record header needs \(Self.size) bytes, found \(raw.count)")
        }
        self.init(raw, at: 0)
        try validateVersion(at: position, path: path)
    }

    /// Reads the fields without validating them. `buffer[index ..< index + 42]` must exist.
    @inline(__always)
    init(_ buffer: [UInt8], at index: Int) {
        oid = OID(rawValue: buffer.uint64BE(at: index))
        tid = TID(rawValue: buffer.uint64BE(at: index + 8))
        previous = buffer.uint64BE(at: index + 16)
        transactionPosition = buffer.uint64BE(at: index + 24)
        versionLength = buffer.uint16BE(at: index + 32)
        pickleLength = buffer.uint64BE(at: index + 34)
    }

    @inline(__always)
    func validateVersion(at position: UInt64, path: String) throws(StorageError) {
        if versionLength != 0 {
            throw .corrupted(
                path: path, offset: position,
                reason: "data record has version length \(versionLength) (versions are not supported since ZODB 3.9)")
        }
    }

    /// The 42 bytes of the fixed part.
    public func serialized() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.size)
        bytes.appendBE(oid.rawValue)
        bytes.appendBE(tid.rawValue)
        bytes.appendBE(previous)
        bytes.appendBE(transactionPosition)
        bytes.appendBE(versionLength)
        bytes.appendBE(pickleLength)
        return bytes
    }

    /// True when an 8-byte backpointer follows instead of a pickle.
    public var hasBackpointer: Bool { pickleLength == 0 }

    /// The whole record: 42 + (plen or 8); nil when a damaged plen overflows.
    public var recordLength: UInt64? {
        UInt64(Self.size).adding(pickleLength == 0 ? 8 : pickleLength)
    }
}

/// Where the data of an object's current revision lives, after following
/// backpointers: enough to read its pickle with one `pread`, or to splice it.
public struct DataRecord: Sendable, Equatable {
    public var oid: OID
    /// The tid of the newest record of the oid: the serial `load` returns,
    /// also when that record is a backpointer to older data.
    public var tid: TID
    /// The position of the newest data header of the oid (its index entry).
    public var position: UInt64
    /// The absolute offset in the file of the pickle bytes (of the record that
    /// holds the data, which differs from ``position`` after a backpointer).
    public var pickleOffset: UInt64
    public var pickleLength: Int
    /// The generation of the file the positions are in (see
    /// ``FileStorage/generation``): read them with
    /// ``FileStorage/read(at:count:generation:)``.
    public var generation: UInt64

    public init(oid: OID, tid: TID, position: UInt64, pickleOffset: UInt64, pickleLength: Int, generation: UInt64 = 0) {
        self.oid = oid
        self.tid = tid
        self.position = position
        self.pickleOffset = pickleOffset
        self.pickleLength = pickleLength
        self.generation = generation
    }
}

/// One committed transaction, as the iterator and ``FileStorage/poll()`` report it.
public struct TransactionSummary: Sendable, Equatable {
    public var tid: TID
    /// The position of the transaction header.
    public var position: UInt64
    /// One of the ``TransactionStatus`` bytes (never `'c'`).
    public var status: UInt8
    /// `transaction.user`, UTF-8 as Zope writes it (`"/ admin"`).
    public var user: [UInt8]
    /// `transaction.description`, UTF-8.
    public var description: [UInt8]
    /// `transaction.extension`: empty, or a pickled dict (left undecoded here).
    public var `extension`: [UInt8]
    /// The oids the transaction wrote, in file order (empty for `'u'` transactions).
    public var oids: [OID]

    public init(tid: TID, position: UInt64, status: UInt8, user: [UInt8], description: [UInt8], extension: [UInt8], oids: [OID]) {
        self.tid = tid
        self.position = position
        self.status = status
        self.user = user
        self.description = description
        self.extension = `extension`
        self.oids = oids
    }
}
