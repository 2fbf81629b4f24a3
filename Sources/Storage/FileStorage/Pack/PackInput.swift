import SystemPackage

/// The part of Data.fs a pack phase reads, memory-mapped, with the checks
/// ZODB's packer makes as it goes (`checkTxn`, `checkData`, the redundant
/// length): pack refuses to copy a file it cannot read with certainty, and
/// leaves it as it was.
///
/// Bytes before ``end`` never change while the storage is open (the file is
/// append-only, and only the pack itself replaces it), so reading them needs
/// no lock while commits append after ``end``.
///
/// `@unchecked Sendable`: the marking walk calls
/// ``readForWalk(at:oid:sample:)`` from several threads, and it only reads
/// (`pread`, immutable fields); the tid-order cursor that
/// ``transaction(at:_:)`` moves is used by one sequential phase at a time.
final class PackInput: @unchecked Sendable {
    /// One data record (FS21/FS30 data record header, 42 bytes, then the
    /// pickle or an 8-byte backpointer).
    struct Record {
        var oid: OID
        var tid: TID
        var position: UInt64
        var previous: UInt64
        var pickleLength: UInt64
        /// The backpointer when ``pickleLength`` is 0 (0: the object does not exist).
        var back: UInt64
        var length: UInt64 { UInt64(DataHeader.size) + (pickleLength == 0 ? 8 : pickleLength) }
    }

    /// One transaction record (header, 23 bytes plus user, description and
    /// extension; data records; the 8-byte redundant length).
    struct Transaction {
        var header: TransactionHeader
        var position: UInt64
        /// Just past the trailer: where the next transaction starts.
        var next: UInt64 { position + header.length + 8 }
    }

    let path: String
    let map: MappedFile
    /// The end of the last complete transaction when the input was taken.
    let end: UInt64
    /// The tid of the last transaction checked: the next must be later.
    /// Phases read the file more than once; each transaction's tid is
    /// checked the first time it is read.
    private var lastTID: TID
    private var checkedUpTo: UInt64 = 0
    /// Set when the walk reads the blocks around the records it visits
    /// (a pack that skips garbage; see ``PackReadAround``).
    let readAround: PackReadAround?

    /// - Parameter checked: transactions before this position were checked
    ///   by an earlier input of the same file, the last of them has `previousTID`.
    ///   - readsAround: the walk reads the 2 MiB blocks around the records
    ///     it visits.
    init(
        _ descriptor: FileDescriptor, path: String, end: UInt64, checked: UInt64 = 0, previousTID: TID = .zero,
        readsAround: Bool = false
    ) throws(StorageError) {
        self.path = path
        self.end = end
        self.lastTID = previousTID
        self.checkedUpTo = checked
        do { map = try MappedFile(descriptor, count: end) } catch { throw error.storageError(path: path, operation: "mmap") }
        // A store of large files has a record header every 64 KiB, so a
        // scan faults on every sixteenth page. In a plain mapping each fault
        // that misses reads around it into 4 KiB folios, one request at a
        // time; with huge pages the kernel reads 2 MiB folios and keeps
        // reading ahead of the faults, as for a sequential `read`. A 2.4 GB
        // file-heavy store packed cold: indexing 1.36–1.54 s → 0.82 s,
        // pack + sync 3.1–3.3 s → 1.8–2.1 s; the object-heavy one unchanged.
        map.adviseHugePages()
        do { readAround = readsAround ? try PackReadAround(map: map) : nil } catch {
            throw error.storageError(path: path, operation: "mmap")
        }
    }

    /// The transaction at `position` (which must be < ``end``), handing each
    /// of its data records to `body` in file order, checked: a tid that does
    /// not increase (ZODB's pack fails on it too), a length past the end, a
    /// checkpoint or unknown status, data records outside their transaction
    /// or pointing at another, versions, a trailer that disagrees.
    ///
    /// One record at a time, as ZODB's packer iterates them: a transaction
    /// can hold a hundred thousand records (a catalog rebuilt in one
    /// commit), and a list of them was the largest thing a pack of an
    /// object-heavy store held besides its index.
    @discardableResult
    func transaction(at position: UInt64, _ body: (Record) throws(StorageError) -> Void = { _ in }) throws(StorageError) -> Transaction {
        let transaction = try checkedTransaction(at: position)
        try forEachRecord(of: transaction, body)
        try checkTrailer(of: transaction)
        return transaction
    }

    /// ``transaction(at:_:)`` in steps, for a phase that writes as it reads:
    /// the header, checked; then ``forEachRecord(of:_:)``; then
    /// ``checkTrailer(of:)``.
    func checkedTransaction(at position: UInt64) throws(StorageError) -> Transaction {
        guard end - position >= UInt64(TransactionHeader.size + 8) else {
            throw corrupted(position, "a transaction header runs past the end of the storage (\(end))")
        }
        let p = Int(position)
        let header = TransactionHeader(
            tid: TID(rawValue: map.uint64BE(at: p)), length: map.uint64BE(at: p + 8), status: map.byte(at: p + 16),
            userLength: map.uint16BE(at: p + 17), descriptionLength: map.uint16BE(at: p + 19),
            extensionLength: map.uint16BE(at: p + 21))
        try check(header, at: position, isNew: position >= checkedUpTo)
        return Transaction(header: header, position: position)
    }

    /// The redundant length after the records of `transaction`.
    func checkTrailer(of transaction: Transaction) throws(StorageError) {
        let position = transaction.position
        try checkTrailer(
            map.uint64BE(at: Int(position + transaction.header.length)), of: transaction.header, at: position,
            isNew: position >= checkedUpTo)
    }

    /// The data records of `transaction`, checked, in file order.
    func forEachRecord(of transaction: Transaction, _ body: (Record) throws(StorageError) -> Void) throws(StorageError) {
        let transactionEnd = transaction.position + transaction.header.length
        var at = transaction.position + transaction.header.headerLength
        var unmappedUpTo = transaction.position
        while at < transactionEnd {
            map.forget(before: at, from: &unmappedUpTo, step: Self.unmapStep)
            let record = try record(at: at, of: transaction)
            try body(record)
            at += record.length
        }
    }

    /// The data records of `transaction` at `positions` (sorted, each the
    /// start of one of its records, as the marker found them), checked
    /// like every record: the copy of a transaction that keeps a few of
    /// its records reads those and not the headers between them, each of
    /// which would bring in 2 MiB of garbage through the map.
    func forEachRecord(
        of transaction: Transaction, at positions: ArraySlice<UInt64>, _ body: (Record) throws(StorageError) -> Void
    ) throws(StorageError) {
        var after = transaction.position + transaction.header.headerLength
        var unmappedUpTo = transaction.position
        for at in positions {
            guard at >= after else { throw corrupted(at, "a kept data record overlaps the one before it") }
            map.forget(before: at, from: &unmappedUpTo, step: Self.unmapStep)
            let record = try record(at: at, of: transaction)
            try body(record)
            after = at + record.length
        }
    }

    /// The data record at `at` of `transaction`, checked (ZODB's `checkData`).
    private func record(at: UInt64, of transaction: Transaction) throws(StorageError) -> Record {
        let position = transaction.position
        let header = transaction.header
        let transactionEnd = position + header.length
        guard at < transactionEnd, transactionEnd - at >= UInt64(DataHeader.size) else {
            throw corrupted(at, "data record exceeds transaction record (which ends at \(transactionEnd))")
        }
        let a = Int(at)
        let versionLength = map.uint16BE(at: a + 32)
        var record = Record(
            oid: OID(rawValue: map.uint64BE(at: a)), tid: TID(rawValue: map.uint64BE(at: a + 8)),
            position: at, previous: map.uint64BE(at: a + 16),
            pickleLength: map.uint64BE(at: a + 34), back: 0)
        let transactionPosition = map.uint64BE(at: a + 24)
        guard versionLength == 0 else { throw corrupted(at, "data record has a version (not supported since ZODB 3.9)") }
        guard transactionPosition == position else {
            throw corrupted(at, "data record points to transaction header at \(transactionPosition), not \(position)")
        }
        guard record.tid == header.tid else { throw corrupted(at, "data record tid \(record.tid) is not its transaction's \(header.tid)") }
        guard record.pickleLength <= transactionEnd - at - UInt64(DataHeader.size),
            record.pickleLength > 0 || transactionEnd - at >= UInt64(DataHeader.size + 8)
        else {
            throw corrupted(at, "data record of \(record.oid.repr) exceeds transaction record (which ends at \(transactionEnd))")
        }
        if record.pickleLength == 0 {
            record.back = map.uint64BE(at: a + DataHeader.size)
            guard record.back == 0 || (record.back >= 4 && record.back < at) else {
                throw corrupted(at, "backpointer \(record.back) does not point before its record")
            }
        }
        return record
    }

    /// The transaction at `position` without its data records, read with
    /// `pread`: what a phase that skips a transaction's records needs (the
    /// length, to go on; the tid and status) and the same checks, but only
    /// the header's and the trailer's bytes are read — through the map, with
    /// its huge pages, each would read 2 MiB of the records around them.
    func transactionHeader(at position: UInt64) throws(StorageError) -> Transaction {
        guard end - position >= UInt64(TransactionHeader.size + 8) else {
            throw corrupted(position, "a transaction header runs past the end of the storage (\(end))")
        }
        let header = TransactionHeader(try pread(at: position, count: TransactionHeader.size), at: 0)
        let isNew = position >= checkedUpTo
        try check(header, at: position, isNew: isNew)
        let trailer = try pread(at: position + header.length, count: 8).uint64BE(at: 0)
        try checkTrailer(trailer, of: header, at: position, isNew: isNew)
        return Transaction(header: header, position: position)
    }

    /// Reads the rest of the header of a transaction that
    /// ``transactionHeader(at:)`` read (user, description, extension) with
    /// `pread`, so that copying the header through the map finds it all
    /// cached: from the walk on the map is advised random, and a fault on a
    /// page not cached would read the 2 MiB folio around it
    /// (``PackReadAround/beginWalk()``).
    func bringInHeader(of transaction: Transaction) throws(StorageError) {
        let rest = transaction.header.headerLength - UInt64(TransactionHeader.size)
        if rest > 0 { _ = try pread(at: transaction.position + UInt64(TransactionHeader.size), count: Int(rest)) }
    }

    /// ZODB's `checkTxn` and the tid order.
    private func check(_ header: TransactionHeader, at position: UInt64, isNew: Bool) throws(StorageError) {
        guard !isNew || header.tid > lastTID else {
            throw corrupted(position, "time-stamp reduction: \(header.tid) after \(lastTID); pack needs increasing tids")
        }
        guard header.length >= header.headerLength, header.length <= end - position - 8 else {
            throw corrupted(position, "transaction length \(header.length) does not fit (header \(header.headerLength) bytes, storage ends at \(end))")
        }
        guard [TransactionStatus.committed, TransactionStatus.packed].contains(header.status) else {
            throw corrupted(position, "transaction status \(header.statusDescription) cannot be packed")
        }
    }

    /// The redundant length after the records; a transaction that passes is checked.
    private func checkTrailer(_ trailer: UInt64, of header: TransactionHeader, at position: UInt64, isNew: Bool) throws(StorageError) {
        let transactionEnd = position + header.length
        guard trailer == header.length else {
            throw corrupted(transactionEnd, "redundant transaction length does not match the length \(header.length) of the transaction at \(position)")
        }
        if isNew {
            lastTID = header.tid
            checkedUpTo = transactionEnd + 8
        }
    }

    /// How far a scan of one transaction's records reads through the map
    /// before it unmaps what it read. A transaction can be tens of MB of
    /// small records (a catalog rebuilt in one commit); mapped whole, it all
    /// counted as pack's memory (`PackPacer` unmaps between transactions).
    static let unmapStep: UInt64 = 1 << 20

    /// The record that holds the data of `record`, following backpointers
    /// (ZODB's `_loadBack_impl`); nil when the chain ends in 0 (no data: the
    /// object's creation was undone).
    func dataRecord(of record: Record) throws(StorageError) -> Record? {
        try dataRecord(of: (record, []), prefetch: 0)?.record
    }

    // MARK: - Random reads

    /// What the walk finds at a revision.
    enum WalkRecord {
        /// The pickle of the data the record holds or points back to.
        case pickle(RecordPickle)
        /// A backpointer chain that ends in nothing: the revision is there,
        /// with no data (ZODB keeps it and finds no references in it).
        case noData
        /// Neither data nor a backpointer: the revision deletes its object
        /// (an undone creation), as if it were not there.
        case deletesObject
    }

    /// What the record of `oid` at `position` holds or points back to, read
    /// with `pread` rather than through the map: the marking walk visits
    /// records in reference order, all over the file, and a fault on a
    /// mapped page maps the 16 pages around it, so through the map a walk
    /// over two million objects would map most of the file into the
    /// process. (A walk that reads around reads through a mapping of its
    /// own instead, let go as it goes: ``PackReadAround/bytes(at:count:)``.)
    /// One `pread` of the header and
    /// the `walkPrefetch` bytes after it covers most records; a larger pickle
    /// costs a second for its first `sample` bytes (or, with `sample` nil, for
    /// the whole) and, past one and a half samples, a third for its tail.
    func readForWalk(at position: UInt64, oid: OID, sample: Int? = 2048) throws(StorageError) -> WalkRecord {
        let prefetch = Self.walkPrefetch
        let record = try readRecordHeader(at: position, oid: oid, prefetch: prefetch)
        if record.record.pickleLength == 0 && record.record.back == 0 { return .deletesObject }
        guard let data = try dataRecord(of: record, prefetch: prefetch) else { return .noData }
        let start = data.record.position + UInt64(DataHeader.size)
        let length = Int(data.record.pickleLength)
        if data.following.count >= length {
            return .pickle(RecordPickle(head: Array(data.following.prefix(length)), tail: [], length: length))
        }
        if let sample, length > sample + sample / 2 {
            let tail = try walkRead(at: start + UInt64(length - sample / 2), count: sample / 2)
            return .pickle(RecordPickle(head: try walkRead(at: start, count: sample), tail: tail, length: length))
        }
        return .pickle(RecordPickle(head: try walkRead(at: start, count: length), tail: [], length: length))
    }

    /// Follows the backpointers from `start` to the record holding the data,
    /// reading each header with up to `prefetch` bytes after it; nil when the
    /// chain ends in 0.
    private func dataRecord(
        of start: (record: Record, following: ArraySlice<UInt8>), prefetch: Int
    ) throws(StorageError) -> (record: Record, following: ArraySlice<UInt8>)? {
        var current = start
        while current.record.pickleLength == 0 {
            guard current.record.back != 0 else { return nil }
            guard current.record.back < current.record.position else {
                throw corrupted(current.record.position, "backpointer does not point back")
            }
            current = try readRecordHeader(at: current.record.back, oid: start.record.oid, prefetch: prefetch)
        }
        return current
    }

    /// Bytes read after a record's header in the walk's first `pread`. The
    /// records of an object-heavy store are a few hundred bytes (catalog
    /// entries, documents, BTree nodes): 512 bytes takes most of them in one
    /// read without copying kilobytes of their neighbours, which reading a
    /// whole head sample each time did (the walk's reads were a quarter
    /// slower; the few larger records pay a second read).
    static let walkPrefetch = 512

    /// A data record header read with `pread`, with up to `prefetch` bytes
    /// after it (the start of its pickle, or its backpointer).
    private func readRecordHeader(at position: UInt64, oid: OID, prefetch: Int) throws(StorageError) -> (record: Record, following: ArraySlice<UInt8>) {
        guard position >= 4, position < end, end - position >= UInt64(DataHeader.size) else {
            throw corrupted(position, "data record of \(oid.repr) lies outside the storage")
        }
        let wanted = Int(min(UInt64(DataHeader.size + max(prefetch, 8)), end - position))
        let bytes = try walkRead(at: position, count: wanted)
        let header = DataHeader(bytes, at: 0)
        var record = Record(
            oid: header.oid, tid: header.tid, position: position, previous: header.previous,
            pickleLength: header.pickleLength, back: 0)
        guard record.oid == oid else { throw corrupted(position, "expected a data record of \(oid.repr), found one of \(record.oid.repr)") }
        guard header.versionLength == 0, record.pickleLength <= end - position - UInt64(DataHeader.size) else {
            throw corrupted(position, "pickle of \(oid.repr) runs past the end of the storage")
        }
        if record.pickleLength == 0 {
            guard bytes.count >= DataHeader.size + 8 else { throw corrupted(position, "backpointer runs past the end") }
            record.back = bytes.uint64BE(at: DataHeader.size)
        }
        return (record, bytes[DataHeader.size...])
    }

    /// A read of the walk: with `pread`, or when it reads around, through
    /// the blocks it brings in (``PackReadAround/bytes(at:count:)``).
    private func walkRead(at offset: UInt64, count: Int) throws(StorageError) -> [UInt8] {
        guard let readAround else { return try pread(at: offset, count: count) }
        guard offset <= end, UInt64(count) <= end - offset else { throw corrupted(offset, "unexpected end of file") }
        return readAround.bytes(at: offset, count: count)
    }

    private func pread(at offset: UInt64, count: Int) throws(StorageError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let got: Int
        do {
            got = try map.descriptor.readFully(fromAbsoluteOffset: offset, count: count, into: &bytes, at: 0)
        } catch {
            throw error.storageError(path: path, operation: "pread")
        }
        guard got == count else { throw corrupted(offset, "unexpected end of file") }
        return bytes
    }

    func corrupted(_ offset: UInt64, _ reason: String) -> StorageError {
        .corrupted(path: path, offset: offset, reason: reason)
    }
}
