/// The sizes of a transaction record about to be written, known before a
/// byte is written because every payload segment declares its length: this
/// is what lets a commit write its FS30 header with the final `tlen` first
/// and stream the data records straight into `Data.fs`, where ZODB first
/// collects them in `Data.fs.tmp` to learn their length.
///
/// ```
/// +0                 23 + ulen + dlen + elen   header (status 'c' until finished)
/// +headerLength      42 + plen per record      data records, in the order given
/// +length            8                         tlen again (the trailer)
/// ```
struct TransactionLayout {
    /// The largest user, description or extension: each length is a 2-byte field.
    static let maximumFieldLength = Int(UInt16.max)

    var user: [UInt8]
    var description: [UInt8]
    var `extension`: [UInt8]
    /// `plen` of each record, in order.
    var pickleLengths: [UInt64]
    /// `23 + ulen + dlen + elen`: where the first data record starts.
    var headerLength: UInt64
    /// `tlen`: the header and the data records, without the trailer.
    var length: UInt64

    /// The bytes the transaction occupies in the file, trailer included.
    var totalLength: UInt64 { length + 8 }

    /// Checks what ZODB's `_begin` and `store` would refuse, and what FS30
    /// cannot express, and computes the sizes.
    ///
    /// - Throws: ``StorageError/invalidTransaction(reason:)`` for a user,
    ///   description or extension longer than 65535 bytes, a record whose
    ///   pickle is empty (a `plen` of 0 would read as a backpointer), a
    ///   segment with a negative offset or length, or an oid given twice (its
    ///   second record's `prev` could not point at the first, as ZODB's
    ///   would not either).
    init(records: [PendingRecord], metadata: TransactionMetadata) throws(StorageError) {
        user = Array(metadata.user.utf8)
        description = Array(metadata.description.utf8)
        `extension` = metadata.extensionBytes
        for (name, field) in [("user name", user), ("description", description), ("extension data", `extension`)]
        where field.count > Self.maximumFieldLength {
            throw .invalidTransaction(reason: "\(name) is \(field.count) bytes, more than the \(Self.maximumFieldLength) a transaction header holds")
        }
        headerLength = UInt64(TransactionHeader.size + user.count + description.count + `extension`.count)

        var seen = Set<OID>()
        seen.reserveCapacity(records.count)
        pickleLengths = []
        pickleLengths.reserveCapacity(records.count)
        var length = headerLength
        for record in records {
            guard seen.insert(record.oid).inserted else {
                throw .invalidTransaction(reason: "oid \(record.oid.repr) is stored twice in one transaction")
            }
            var pickleLength: UInt64 = 0
            for segment in record.segments {
                if case .file(_, let offset, let count) = segment, offset < 0 || count < 0 {
                    throw .invalidTransaction(reason: "payload segment of \(record.oid.repr) has offset \(offset) and length \(count)")
                }
                pickleLength += UInt64(segment.length)
            }
            guard pickleLength > 0 else {
                throw .invalidTransaction(reason: "the pickle of \(record.oid.repr) is empty")
            }
            pickleLengths.append(pickleLength)
            length += UInt64(DataHeader.size) + pickleLength
        }
        self.length = length
    }
}
