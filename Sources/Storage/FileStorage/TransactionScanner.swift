import SystemPackage

/// A forward walk over the transactions of a FileStorage that applies the rules
/// of ZODB's `read_index` (`FileStorage.py`), reading through one large buffer.
///
/// Each call to ``next()`` returns the next committed transaction and leaves
/// its data records in ``records``, or returns nil at the end: either exactly
/// at the end of the file, or at a *torn tail* (``stop`` says which), which is
/// never an error and never modified:
/// - fewer than 23 bytes after the last transaction;
/// - a transaction whose `tlen` runs past the end of the file, or whose status
///   is `'c'` (a commit that voted but never finished);
/// - `tlen` shorter than the transaction's own header.
///
/// Damage in the middle throws ``StorageError/corrupted(path:offset:reason:)``
/// with the offset ZODB's `panic` names: data records that run past their
/// transaction, a `tloc` that does not point back at the transaction, a
/// non-zero version length, or a trailer that does not repeat `tlen`.
///
/// One rule is stricter than ZODB's, on purpose: when a transaction looks torn
/// but the file still *ends* with a complete transaction after it (its trailer
/// leads back to a header with the same `tlen`), the damage is in the middle
/// and hiding everything after it would be silent data loss, so that throws
/// too. ZODB would truncate there (read-write) or stop (read-only).
///
/// What ZODB only logs becomes a ``StorageWarning``: a tid that does not
/// increase, an unknown status byte, a `prev` pointer that disagrees with the
/// index (the last one is checked by the caller, which owns the index).
struct TransactionScanner {
    /// A data record of the transaction last returned by ``next()``.
    struct Record {
        var oid: OID
        var position: UInt64
        var previous: UInt64
    }

    /// A committed transaction.
    struct Transaction {
        var header: TransactionHeader
        var position: UInt64
        /// User, description and extension, when the scanner was asked for them.
        var user: [UInt8] = []
        var description: [UInt8] = []
        var `extension`: [UInt8] = []
    }

    enum Stop: Equatable {
        /// The last transaction ends exactly at the end of the file.
        case endOfFile
        /// The bytes from `offset` on are not a complete transaction.
        case tornTail(offset: UInt64, reason: String)
    }

    /// At most this many warnings are kept; a badly damaged file would
    /// otherwise grow the list without bound.
    static let warningLimit = 1000

    let path: String
    let fileSize: UInt64
    let includeMetadata: Bool
    private var reader: SequentialReader
    /// Where the next transaction starts (after a stop: the end of the last good one).
    private(set) var position: UInt64
    /// The tid of the last transaction returned (or the one given at the start).
    private(set) var previousTID: TID
    private(set) var records: [Record] = []
    private(set) var stop: Stop?
    private(set) var warnings: [StorageWarning] = []

    /// - Parameters:
    ///   - fileSize: nothing at or after this offset is read.
    ///   - start: the position of the first transaction (4, or the position an
    ///     `.index` file was saved at).
    ///   - lastTID: the tid of the transaction before `start`, for the
    ///     increasing-tid check.
    init(descriptor: FileDescriptor, path: String, fileSize: UInt64, start: UInt64, lastTID: TID, includeMetadata: Bool = false) {
        self.path = path
        self.fileSize = fileSize
        self.includeMetadata = includeMetadata
        self.reader = SequentialReader(descriptor: descriptor, path: path, limit: fileSize)
        self.position = start
        self.previousTID = lastTID
    }

    /// The next committed transaction, or nil at the end (see ``stop``).
    mutating func next() throws(StorageError) -> Transaction? {
        records.removeAll(keepingCapacity: true)
        guard stop == nil else { return nil }
        let pos = position
        guard pos < fileSize else {
            stop = .endOfFile
            return nil
        }
        guard let at = try reader.window(at: pos, count: TransactionHeader.size) else {
            return torn(at: pos, "\(fileSize - pos) bytes after the last transaction, fewer than a transaction header")
        }
        let header = TransactionHeader(reader.buffer, at: at)

        if header.tid <= previousTID {
            warn(at: pos, "time-stamp reduction: \(header.tid) after \(previousTID)")
        }
        // fileSize - pos >= 23 here, so the subtraction cannot wrap.
        if header.length > fileSize - pos - 8 || header.status == TransactionStatus.checkpoint {
            let reason = header.status == TransactionStatus.checkpoint
                ? "transaction \(header.tid) has the checkpoint status 'c' (its commit never finished)"
                : "transaction length \(header.length) runs past the end of the file (\(fileSize) bytes)"
            try rejectIfCompleteTransactionFollows(pos, reason)
            return torn(at: pos, reason)
        }
        if ![TransactionStatus.committed, TransactionStatus.packed, TransactionStatus.undone].contains(header.status) {
            warn(at: pos, "invalid transaction status \(header.statusDescription)")
        }
        if header.length < header.headerLength {
            let reason = "transaction length \(header.length) is shorter than its header (\(header.headerLength) bytes)"
            try rejectIfCompleteTransactionFollows(pos, reason)
            return torn(at: pos, reason)
        }

        let end = pos + header.length
        var transaction = Transaction(header: header, position: pos)
        if includeMetadata {
            let u = Int(header.userLength), d = Int(header.descriptionLength), e = Int(header.extensionLength)
            if let at = try reader.window(at: pos, count: Int(header.headerLength)) {
                let base = at + TransactionHeader.size
                transaction.user = Array(reader.buffer[base..<(base + u)])
                transaction.description = Array(reader.buffer[(base + u)..<(base + u + d)])
                transaction.extension = Array(reader.buffer[(base + u + d)..<(base + u + d + e)])
            }
        }

        // 'u' (undone, legacy): its data records are not read, as in read_index.
        if header.status != TransactionStatus.undone {
            var p = pos + header.headerLength
            while p < end {
                guard end - p >= UInt64(DataHeader.size), let at = try reader.window(at: p, count: DataHeader.size) else {
                    throw .corrupted(path: path, offset: p, reason: "data record exceeds transaction record (which ends at \(end))")
                }
                let data = DataHeader(reader.buffer, at: at)
                try data.validateVersion(at: p, path: path)
                guard let length = data.recordLength, length <= end - p else {
                    throw .corrupted(
                        path: path, offset: p,
                        reason: "data record of \(data.oid.repr) with pickle length \(data.pickleLength) exceeds transaction record (which ends at \(end))")
                }
                guard data.transactionPosition == pos else {
                    throw .corrupted(
                        path: path, offset: p,
                        reason: "data record points to transaction header at \(data.transactionPosition), not \(pos)")
                }
                records.append(Record(oid: data.oid, position: p, previous: data.previous))
                p += length
            }
        }

        guard let at = try reader.window(at: end, count: 8) else {
            // Unreachable: end + 8 <= fileSize was checked above.
            throw .corrupted(path: path, offset: end, reason: "missing redundant transaction length")
        }
        let trailer = reader.buffer.uint64BE(at: at)
        guard trailer == header.length else {
            throw .corrupted(
                path: path, offset: end,
                reason: "redundant transaction length \(trailer) does not match the length \(header.length) of the transaction at \(pos)")
        }
        position = end + 8
        previousTID = header.tid
        return transaction
    }

    mutating func warn(at offset: UInt64, _ message: String) {
        if warnings.count < Self.warningLimit { warnings.append(StorageWarning(offset: offset, message: message)) }
    }

    private mutating func torn(at offset: UInt64, _ reason: String) -> Transaction? {
        stop = .tornTail(offset: offset, reason: reason)
        warn(at: offset, "torn tail ignored: " + reason)
        return nil
    }

    /// Throws when the file ends with a complete transaction that starts after
    /// `offset`: then the transaction at `offset` is damage, not a torn tail.
    private func rejectIfCompleteTransactionFollows(_ offset: UInt64, _ reason: String) throws(StorageError) {
        let minimum = UInt64(TransactionHeader.size + 8)
        guard fileSize >= minimum, fileSize - minimum > offset else { return }
        var trailer = [UInt8](repeating: 0, count: 8)
        var header = [UInt8](repeating: 0, count: TransactionHeader.size)
        do {
            guard try reader.descriptor.readFully(fromAbsoluteOffset: fileSize - 8, count: 8, into: &trailer, at: 0) == 8
            else { return }
            let length = trailer.uint64BE(at: 0)
            guard length >= UInt64(TransactionHeader.size), length <= fileSize - 8 else { return }
            let start = fileSize - 8 - length
            guard start > offset,
                try reader.descriptor.readFully(fromAbsoluteOffset: start, count: header.count, into: &header, at: 0) == header.count
            else { return }
            let last = TransactionHeader(header, at: 0)
            guard last.length == length, last.headerLength <= length,
                [TransactionStatus.committed, TransactionStatus.packed, TransactionStatus.undone].contains(last.status)
            else { return }
            throw StorageError.corrupted(
                path: path, offset: offset,
                reason: reason + ", but the file goes on to a complete transaction at \(start)")
        } catch let error as StorageError {
            throw error
        } catch {
            return  // an I/O error while looking for evidence: treat as torn
        }
    }
}
