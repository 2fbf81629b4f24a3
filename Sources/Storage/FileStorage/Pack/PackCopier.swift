/// The two copying phases of a pack (ZODB's `copyToPacktime` and
/// `copyRest`), writing through a ``PackWriter`` and building the new
/// file's index as they go.
///
/// Before the pack time only the revisions the ``PackMarker`` keeps are
/// copied, in their transactions, which get the status `'p'`, a new length
/// and trailer; each record gets `prev = 0` and its backpointer resolved into
/// the data itself (a record whose data chain ends in nothing keeps a zero
/// backpointer: "George Bailey"), as `writePackedDataRecord` does.
///
/// After the pack time every transaction is copied, with `prev` pointing to
/// the oid's previous record in the new file and each backpointer moved to
/// its target's new position. ZODB finds that target by searching the new
/// file for the transaction of the old one; this copier remembers the new
/// position of every record a backpointer names instead (the marker lists
/// them, and every record copied after the marker's scan is remembered), and
/// writes the data inline in the one case where the target was not copied.
struct PackCopier {
    private(set) var index = ObjectIndex()
    private(set) var recordsWritten = 0
    private(set) var lastTransactionPosition: UInt64?
    /// New position of each record a backpointer may name.
    private var moved: [UInt64: UInt64] = [:]
    private let targets: Set<UInt64>

    init(backpointerTargets: Set<UInt64>) {
        targets = backpointerTargets
    }

    /// `copyToPacktime`: the kept revisions of the transactions before `end`.
    /// The marker's index of kept revisions becomes the packed file's index
    /// (``PackMarker/recordMoved(_:from:to:)``), and the marker lets go of it.
    ///
    /// - Parameter kept: when given, the sorted positions of every kept
    ///   revision (``PackMarker/keptPositions()``): a transaction with none
    ///   of them is passed over with only its header and trailer read, and
    ///   of one with some only those records are read, besides its header
    ///   and trailer (read with `pread`: through the map each would bring
    ///   in the 2 MiB around it).
    mutating func copyKept(
        _ input: PackInput, to writer: PackWriter, marker: inout PackMarker, until end: UInt64, kept: [UInt64]?,
        pacer: inout PackPacer
    ) throws(StorageError) {
        var position: UInt64 = 4
        var nextKept = 0
        while position < end {
            let transaction: PackInput.Transaction
            var keptHere: ArraySlice<UInt64>?
            if let kept {
                transaction = try input.transactionHeader(at: position)
                while nextKept < kept.count && kept[nextKept] < position { nextKept += 1 }
                var last = nextKept
                while last < kept.count && kept[last] < transaction.next { last += 1 }
                guard last > nextKept else {
                    position = transaction.next
                    pacer.advance(to: position, objects: recordsWritten, read: UInt64(TransactionHeader.size + 8), input: nil)
                    continue
                }
                keptHere = kept[nextKept..<last]
                nextKept = last
                try input.bringInHeader(of: transaction)
            } else {
                transaction = try input.checkedTransaction(at: position)
            }
            // The header goes out with the first kept record (a transaction
            // that keeps none is left out), its length once the last is
            // copied. The data of each kept record is its own, or what its
            // backpointer chain ends at.
            let header = transaction.header
            let writtenBefore = writer.position
            var newPosition: UInt64?
            func copy(_ record: PackInput.Record) throws(StorageError) {
                guard marker.keeps(record.oid, at: record.position) else { return }
                if newPosition == nil {
                    newPosition = writer.position
                    var packed = header
                    packed.status = TransactionStatus.packed
                    try writer.copy(from: input, at: position, length: header.headerLength, edits: [(0, packed.serialized())])
                }
                let at = writer.position
                try Self.write(record, as: try Self.ownData(of: record, input), previous: 0, transaction: newPosition!,
                               from: input, to: writer)
                marker.recordMoved(record.oid, from: record.position, to: at)
                if !targets.isEmpty && targets.contains(record.position) { moved[record.position] = at }
                recordsWritten += 1
            }
            if let keptHere {
                try input.forEachRecord(of: transaction, at: keptHere, copy)
            } else {
                try input.forEachRecord(of: transaction, copy)
                try input.checkTrailer(of: transaction)
            }
            if let newPosition { try finish(transaction, copiedTo: newPosition, from: input, to: writer) }
            position = transaction.next
            pacer.advance(to: position, objects: recordsWritten, read: header.length + 8, input: input)
            pacer.charge(writer.position - writtenBefore)
        }
        index = marker.takePackedIndex()
    }

    /// `copyRest`: every transaction in `[start, end)` of `input`.
    /// `rememberAll`: remember the new position of every record, for
    /// transactions committed after the marker's scan.
    mutating func copyAll(
        _ input: PackInput, to writer: PackWriter, from start: UInt64, until end: UInt64, rememberAll: Bool,
        pacer: inout PackPacer
    ) throws(StorageError) -> Int {
        var position = start
        var transactions = 0
        while position < end {
            // The length goes into the header once the records are copied:
            // the header is copied with an edit of its length field for the
            // patch to rewrite while it is still in the pending run.
            let transaction = try input.checkedTransaction(at: position)
            let header = transaction.header
            let newPosition = writer.position
            try writer.copy(from: input, at: position, length: header.headerLength, edits: [(8, Self.bigEndian(header.length))])
            try input.forEachRecord(of: transaction) { (record) throws(StorageError) in
                let at = writer.position
                try Self.write(record, as: try form(of: record, input), previous: index[record.oid] ?? 0,
                               transaction: newPosition, from: input, to: writer)
                index.updateValue(at, forKey: record.oid)
                if rememberAll || (!targets.isEmpty && targets.contains(record.position)) { moved[record.position] = at }
                recordsWritten += 1
            }
            try input.checkTrailer(of: transaction)
            try finish(transaction, copiedTo: newPosition, from: input, to: writer)
            transactions += 1
            position = transaction.next
            pacer.advance(to: position, objects: recordsWritten, read: header.length + 8, input: input)
            pacer.charge(writer.position - newPosition)
        }
        return transactions
    }

    /// A record's new form after the pack time: as it was, a moved
    /// backpointer, or inline data.
    private func form(of record: PackInput.Record, _ input: PackInput) throws(StorageError) -> Form {
        if record.pickleLength == 0, record.back != 0, !moved.isEmpty, let target = moved[record.back] {
            return .backpointer(target)
        }
        return try Self.ownData(of: record, input)
    }

    /// A record's new form with its data of its own: as it was, the data its
    /// backpointer chain ends at inline, or a backpointer to nothing where
    /// the chain ends in 0 (`copyToPacktime` keeps no backpointer).
    private static func ownData(of record: PackInput.Record, _ input: PackInput) throws(StorageError) -> Form {
        if record.pickleLength > 0 { return .asIs }
        if let data = try input.dataRecord(of: record) { return .inline(data) }
        return .backpointer(0)
    }

    /// Appends `record` in `form`, its header naming `previous` and the new
    /// position of its transaction.
    private static func write(
        _ record: PackInput.Record, as form: Form, previous: UInt64, transaction: UInt64,
        from input: PackInput, to writer: PackWriter
    ) throws(StorageError) {
        switch form {
        case .asIs:
            try writer.copy(from: input, at: record.position, length: record.length,
                            edits: [(16, pointers(previous: previous, transaction: transaction))])
        case .backpointer(let target):
            let header = DataHeader(oid: record.oid, tid: record.tid, previous: previous, transactionPosition: transaction, pickleLength: 0)
            try writer.write(header.serialized() + bigEndian(target))
        case .inline(let data):
            let header = DataHeader(
                oid: record.oid, tid: record.tid, previous: previous, transactionPosition: transaction,
                pickleLength: data.pickleLength)
            try writer.write(header.serialized())
            try writer.copy(from: input, at: data.position + UInt64(DataHeader.size), length: data.pickleLength, edits: [])
        }
    }

    /// The end of a transaction whose header and records went to
    /// `newPosition`: its length, known now, patched into the header and
    /// written as the trailer.
    private mutating func finish(
        _ transaction: PackInput.Transaction, copiedTo newPosition: UInt64, from input: PackInput, to writer: PackWriter
    ) throws(StorageError) {
        let length = Self.bigEndian(writer.position - newPosition)
        try writer.patch(at: newPosition + 8, length)
        try writer.copy(from: input, at: transaction.position + transaction.header.length, length: 8, edits: [(0, length)])
        lastTransactionPosition = newPosition
    }

    private enum Form {
        case asIs
        case backpointer(UInt64)
        case inline(PackInput.Record)
    }

    /// `prev` and `tloc`, the 16 bytes at offset 16 of a data record header.
    private static func pointers(previous: UInt64, transaction: UInt64) -> [UInt8] {
        bigEndian(previous) + bigEndian(transaction)
    }

    private static func bigEndian(_ value: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8)
        bytes.appendBE(value)
        return bytes
    }
}
