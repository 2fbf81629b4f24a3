import SystemPackage

/// Writes one transaction record into `Data.fs` at a given position, front
/// to back, with positional writes only (`pwrite`, `copy_file_range`): the
/// descriptor's offset is never used, so readers' `pread`s are unaffected.
///
/// Small pieces (headers, user/description/extension, `.bytes` segments) are
/// gathered in a buffer of at most ``bufferCapacity`` bytes; `.file`
/// segments are copied file to file in the kernel, or through a scratch
/// buffer of the same size when the kernel cannot. Memory stays bounded
/// whatever the payload size: a 1 GiB upload is ~16k records of 64 KiB
/// copied from the spool one at a time.
///
/// The order of the bytes on disk is ZODB's `tpc_vote` + `tpc_finish`:
/// the header with status `'c'` and the final `tlen`, the data records, the
/// trailer, and only then the status byte `' '` at `position + 16` (see
/// ``FileStorage/commit(_:metadata:)`` for why that is crash-equivalent to
/// ZODB's path through `Data.fs.tmp`). Errors are `Errno`s; the caller
/// rolls the file back.
struct TransactionWriter {
    /// The most bytes buffered, and the chunk size of a copy through memory.
    static let bufferCapacity = 1 << 20

    /// Where a failure happened, for the error message.
    struct Failure: Error {
        var operation: String
        var errno: Errno
    }

    let file: FileDescriptor
    /// The position of the transaction header.
    let position: UInt64
    private var buffer: [UInt8] = []
    /// Bytes of the transaction already handed to the kernel.
    private var flushed: UInt64 = 0
    private var scratch: [UInt8] = []
    /// Bytes of the transaction whose writeback was started.
    private var writebackStarted: UInt64 = 0
    /// A test fault: fail once this many bytes were written.
    private var failure: (afterBytes: UInt64, errno: Errno)?

    init(file: FileDescriptor, position: UInt64, failAfter: (afterBytes: UInt64, errno: Int32)? = nil) {
        self.file = file
        self.position = position
        self.failure = failAfter.map { ($0.afterBytes, Errno(rawValue: $0.errno)) }
        buffer.reserveCapacity(Self.bufferCapacity)
    }

    /// Writes the whole transaction with status `'c'`, then sets `' '`.
    ///
    /// - Parameters:
    ///   - previous: the `prev` of each record: the position of the oid's
    ///     newest record before this transaction, 0 for a new object.
    static func write(
        _ records: [PendingRecord], layout: TransactionLayout, tid: TID, previous: [UInt64],
        to file: FileDescriptor, at position: UInt64, failAfter: (afterBytes: UInt64, errno: Int32)?
    ) throws(Failure) {
        var writer = TransactionWriter(file: file, position: position, failAfter: failAfter)
        let header = TransactionHeader(
            tid: tid, length: layout.length, status: TransactionStatus.checkpoint,
            userLength: UInt16(layout.user.count), descriptionLength: UInt16(layout.description.count),
            extensionLength: UInt16(layout.extension.count))
        try writer.append(header.serialized())
        try writer.append(layout.user)
        try writer.append(layout.description)
        try writer.append(layout.extension)
        for (i, record) in records.enumerated() {
            let data = DataHeader(
                oid: record.oid, tid: tid, previous: previous[i], transactionPosition: position,
                pickleLength: layout.pickleLengths[i])
            try writer.append(data.serialized())
            for segment in record.segments {
                switch segment {
                case .bytes(let bytes):
                    try writer.append(bytes)
                case .file(let source, let offset, let length):
                    try writer.copy(from: source, offset: UInt64(offset), length: length)
                }
            }
        }
        var trailer: [UInt8] = []
        trailer.appendBE(layout.length)
        try writer.append(trailer)
        try writer.flush()
        precondition(writer.flushed == layout.totalLength, "transaction layout and writer disagree")
        // tpc_finish: the status byte, written after everything else.
        try writer.put([TransactionStatus.committed], 0..<1, at: 16, operation: "write status")
    }

    /// Appends bytes, buffering small ones and writing large ones directly.
    mutating func append(_ bytes: [UInt8]) throws(Failure) {
        if buffer.count + bytes.count <= Self.bufferCapacity {
            buffer.append(contentsOf: bytes)
            return
        }
        try flush()
        if bytes.count <= Self.bufferCapacity {
            buffer.append(contentsOf: bytes)
        } else {
            try put(bytes, 0..<bytes.count, at: flushed, operation: "write")
            flushed += UInt64(bytes.count)
        }
    }

    /// Copies `length` bytes of `source` at `offset` to the end of what was appended.
    mutating func copy(from source: FileDescriptor, offset: UInt64, length: Int) throws(Failure) {
        try flush()
        guard length > 0 else { return }
        var allowed = length
        var fault: Errno?
        if let failure, flushed + UInt64(length) > failure.afterBytes {
            allowed = Int(failure.afterBytes - min(failure.afterBytes, flushed))
            fault = failure.errno
        }
        if scratch.isEmpty { scratch = [UInt8](repeating: 0, count: Self.bufferCapacity) }
        let copied: Int
        do {
            copied = try file.copyRange(
                from: source, sourceOffset: offset, toAbsoluteOffset: position + flushed, length: allowed, scratch: &scratch)
        } catch {
            throw Failure(operation: "copy payload", errno: error)
        }
        flushed += UInt64(copied)
        startWriteback()
        if let fault {
            failure = nil
            throw Failure(operation: "copy payload (injected)", errno: fault)
        }
        guard copied == length else {
            throw Failure(
                operation: "copy payload (its file ended after \(copied) of \(length) bytes at offset \(offset))",
                errno: .ioError)
        }
    }

    /// A large payload (an upload copied from its spool) is sent to the disk
    /// while the copy goes on, a step at a time, so the commit's fsync waits
    /// for the last step rather than for all of it: the copy and the disk
    /// overlap (a 1 GiB commit took ~1.0 s with one fsync at the end).
    /// Crash-safe either way: until its status byte the transaction is a
    /// `'c'` tail that recovery truncates.
    private mutating func startWriteback() {
        guard flushed - writebackStarted >= Self.writebackStep else { return }
        file.startWriteback((position + writebackStarted)..<(position + flushed))
        writebackStarted = flushed
    }

    static let writebackStep: UInt64 = 16 << 20

    /// Writes out the buffer.
    mutating func flush() throws(Failure) {
        guard !buffer.isEmpty else { return }
        try put(buffer, 0..<buffer.count, at: flushed, operation: "write")
        flushed += UInt64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
    }

    /// `pwrite` of `bytes[range]` at `relative` bytes into the transaction,
    /// honouring the injected fault.
    private mutating func put(_ bytes: [UInt8], _ range: Range<Int>, at relative: UInt64, operation: String) throws(Failure) {
        var range = range
        var fault: Errno?
        if let failure, relative + UInt64(range.count) > failure.afterBytes {
            let allowed = Int(failure.afterBytes - min(failure.afterBytes, relative))
            range = range.lowerBound..<(range.lowerBound + allowed)
            fault = failure.errno
        }
        do {
            try file.writeFully(toAbsoluteOffset: position + relative, bytes, range)
        } catch {
            throw Failure(operation: operation, errno: error)
        }
        if let fault {
            failure = nil
            throw Failure(operation: operation + " (injected)", errno: fault)
        }
    }
}
