import SystemPackage

/// What a trusted `.index` file gives the open: the index as of `position`,
/// and the last transaction before that position.
struct RestoredIndex {
    var index: ObjectIndex
    var position: UInt64
    var lastTID: TID
    var lastTransactionPosition: UInt64
}

enum IndexSanity {
    /// ZODB's `_check_sanity`: decides whether an index saved at `position`
    /// still describes this file, by walking back from `position` to the last
    /// transaction that is not undone and not empty and checking up to 5 of
    /// its data records against the index.
    ///
    /// The index is rejected when `position < 100`, the file is shorter than
    /// `position`, the trailer and header lengths of a transaction disagree, a
    /// status is not `' '`/`'p'` (`'u'` transactions are skipped), `tlen` is
    /// shorter than its header, or a checked record is not where the index
    /// says or does not point back at its transaction.
    ///
    /// Where ZODB lets a read error or a non-zero version length escape from
    /// this check (so the open fails), this rejects the index instead, and
    /// the open falls back to a full scan.
    ///
    /// - Returns: the tid and position of the transaction that ends at
    ///   `position`, or nil when the index must be ignored.
    static func check(
        index: ObjectIndex, position: UInt64, fileSize: UInt64, descriptor: FileDescriptor
    ) -> (lastTID: TID, lastTransactionPosition: UInt64)? {
        guard position >= 100, fileSize >= position else { return nil }
        let maximumChecked = 5
        var checked = 0
        var pos = position
        var last: (TID, UInt64)?
        var bytes = [UInt8](repeating: 0, count: 50)

        func read(_ offset: UInt64, _ count: Int) -> Bool {
            guard offset <= fileSize, UInt64(count) <= fileSize - offset else { return false }
            return (try? descriptor.readFully(fromAbsoluteOffset: offset, count: count, into: &bytes, at: 0)) == count
        }

        // Walks back over undone and empty transactions; checks the first other one.
        while true {
            // The smallest transaction is 23 + 8 bytes, after the 4-byte magic.
            guard pos >= 4 + UInt64(TransactionHeader.size) + 8, read(pos - 8, 8) else { return nil }
            let length = bytes.uint64BE(at: 0)
            // pos = pos - tl - 8; insane when < 4
            guard length <= pos - 8, pos - 8 - length >= 4 else { return nil }
            pos = pos - 8 - length
            guard read(pos, TransactionHeader.size) else { return nil }
            let header = TransactionHeader(bytes, at: 0)
            if last == nil { last = (header.tid, pos) }
            guard header.length == length else { return nil }
            if header.status == TransactionStatus.undone { continue }
            guard header.status == TransactionStatus.committed || header.status == TransactionStatus.packed else { return nil }
            guard length >= header.headerLength else { return nil }
            let end = pos + length
            var record = pos + header.headerLength
            if record == end { continue }  // an empty transaction: look further back

            while record < end && checked < maximumChecked {
                guard read(record, DataHeader.size) else { return nil }
                let data = DataHeader(bytes, at: 0)
                guard data.versionLength == 0, let recordLength = data.recordLength,
                    recordLength <= end - record, data.transactionPosition == pos,
                    index[data.oid] == record
                else { return nil }
                checked += 1
                record += recordLength
            }
            return last.map { (lastTID: $0.0, lastTransactionPosition: $0.1) }
        }
    }
}
