import SystemPackage

/// Writes `Data.fs.pack` front to back, moving record bytes the cheapest way.
///
/// Most of a packed file is records copied unchanged but for a few header
/// fields (`prev`, `tloc`, the transaction's status and length). The writer
/// takes *spans* of input bytes plus *edits* (new header bytes at an offset
/// of the span) and merges spans that continue each other in both files into
/// one run. A run that is mostly payload — the 64 KiB `Pdata` records of a
/// file-heavy database — goes through `copy_file_range`, so its bytes never
/// enter this process, and its edits follow as small `pwrite`s. A run of many
/// small records (an object-heavy database) is copied from the input map into
/// a buffer, edited there, and written 4 MiB at a time.
///
/// Where the file system takes direct I/O, every run goes through the
/// buffer instead, and the buffer's chunks go straight to the disk
/// (``DirectOutput``): no page of the output enters the page cache, and
/// the writing overlaps the copying. Elsewhere the output is written back
/// as it goes and dropped from the page cache behind the cursor (unless
/// ``PackOptions/sparePageCache`` is off), so the final fsync is short and
/// a pack of a large file does not push the mount's working set out of
/// memory.
final class PackWriter {
    let path: String
    let descriptor: FileDescriptor
    private let source: PackInput
    private(set) var position: UInt64
    private let spareCache: Bool

    /// The output's next bytes, written when full (or at the end).
    private var chunk: OutputChunk
    /// Set when the file takes direct I/O.
    private let direct: DirectOutput?
    /// The pending run: input `[runSource, runSource + runLength)` to output `runTarget`.
    private var runSource: UInt64 = 0
    private var runTarget: UInt64 = 0
    private var runLength: UInt64 = 0
    /// Edits of the pending run: (offset in the run, bytes).
    private var runEdits: [(UInt64, [UInt8])] = []
    private var scratch: [UInt8] = []
    /// Patches of bytes already handed to the direct writer, written once
    /// direct I/O is off (``finish()``): a transaction's length in its
    /// header, when the header went to the disk before its last record.
    private var latePatches: [(offset: UInt64, bytes: [UInt8])] = []
    private var writtenBack: UInt64 = 0
    /// Input copied through the buffer is unmapped behind this offset as the
    /// copy moves on (see ``PackInput/unmapStep``).
    private var unmappedUpTo: UInt64 = 0

    static let bufferCapacity = 4 << 20
    /// A run ends after this many edits. Everything after the pack time is
    /// one run of unchanged transactions, with an edit per record: held
    /// whole, its edits were 4.8 MB of a pack of 1.5 million objects.
    static let runEditLimit = 1024
    /// A run moves in the kernel when it averages at least this many bytes per edit.
    static let kernelCopyBytesPerEdit: UInt64 = 16 << 10
    static let writebackStep: UInt64 = 32 << 20

    /// Creates (or truncates) the output file and writes `magic`.
    ///
    /// - Parameter directIO: write directly where the file system allows
    ///   (tests turn it off to cover the other path).
    init(path: String, source: PackInput, magic: [UInt8], spareCache: Bool, directIO: Bool = true) throws(StorageError) {
        self.path = path
        self.source = source
        self.spareCache = spareCache
        do {
            descriptor = try FileDescriptor.open(
                FilePath(path), .readWrite, options: [.create, .truncate, .closeOnExec],
                permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch {
            throw (error as? Errno ?? .ioError).storageError(path: path, operation: "create")
        }
        position = 0
        direct = directIO ? DirectOutput(descriptor) : nil
        do {
            chunk = try direct?.chunk(at: 0) ?? OutputChunk(capacity: Self.bufferCapacity, offset: 0)
        } catch {
            throw error.storageError(path: path, operation: "write")
        }
        try write(magic)
    }

    /// Appends bytes that are not in the input.
    func write(_ bytes: [UInt8]) throws(StorageError) {
        try flushRun()
        var rest = bytes[...]
        while !rest.isEmpty {
            let piece = rest.prefix(chunk.room)
            chunk.append(piece)
            rest = rest.dropFirst(piece.count)
            if chunk.isFull { try flushBuffer() }
        }
        position += UInt64(bytes.count)
    }

    /// Appends input bytes `[offset, offset + length)` of `input` with `edits`
    /// (bytes replacing the span's own at an offset of the span).
    func copy(from input: PackInput, at offset: UInt64, length: UInt64, edits: [(UInt64, [UInt8])]) throws(StorageError) {
        guard length > 0 else { return }
        if input !== source {
            // Transactions committed during the pack come from a newer map
            // of the same file; a span of it never joins a run of the old one.
            try flushRun()
            try appendToBuffer(input, at: offset, length: length, edits: edits)
            return
        }
        if runLength > 0, runSource + runLength == offset, runTarget + runLength == position,
            runEdits.count < Self.runEditLimit {
            for (at, bytes) in edits { runEdits.append((runLength + at, bytes)) }
            runLength += length
        } else {
            try flushRun()
            runSource = offset
            runTarget = position
            runLength = length
            runEdits = edits
        }
        position += length
    }

    /// Overwrites bytes already appended at `offset`: the length of a
    /// transaction in its header, known once its records are copied. The
    /// copy then reads each transaction once, one record at a time, with
    /// nothing held per record.
    ///
    /// The bytes may still be in the pending run (under the edit the header
    /// was copied with, rewritten in place; otherwise the run is flushed and
    /// the next copy starts one of its own), in the chunk being filled, or
    /// written — through the page cache (written over now) or directly
    /// (written over at the end: a transaction that started in an earlier
    /// chunk, at most one per chunk).
    func patch(at offset: UInt64, _ bytes: [UInt8]) throws(StorageError) {
        precondition(offset + UInt64(bytes.count) <= position)
        if runLength > 0, offset + UInt64(bytes.count) > runTarget {
            if offset >= runTarget, patchEdit(at: offset - runTarget, bytes) { return }
            try flushRun()
        }
        // The bytes before the chunk being filled are written already.
        let beforeChunk = offset >= chunk.offset ? 0 : Int(min(chunk.offset - offset, UInt64(bytes.count)))
        if beforeChunk < bytes.count {
            chunk.overwrite(at: Int(offset + UInt64(beforeChunk) - chunk.offset), with: bytes[beforeChunk...])
        }
        guard beforeChunk > 0 else { return }
        let late = Array(bytes[..<beforeChunk])
        if direct != nil {
            latePatches.append((offset, late))
            return
        }
        do {
            try descriptor.writeFully(toAbsoluteOffset: offset, late, 0..<late.count)
        } catch {
            throw error.storageError(path: path, operation: "write")
        }
    }

    /// Writes `bytes` over an edit of the pending run that covers
    /// `[offset, offset + bytes.count)` of the run (the header edit the
    /// transaction was copied with); false when none does.
    private func patchEdit(at offset: UInt64, _ bytes: [UInt8]) -> Bool {
        // Edits are in offset order: the last one starting at or before `offset`.
        let last = runEdits.partitionPoint { $0.0 > offset } - 1
        guard last >= 0 else { return false }
        let (at, existing) = runEdits[last]
        guard offset + UInt64(bytes.count) <= at + UInt64(existing.count) else { return false }
        let from = Int(offset - at)
        runEdits[last].1.replaceSubrange(from..<(from + bytes.count), with: bytes)
        return true
    }

    /// Writes everything out and fsyncs the file.
    func finish() throws(StorageError) {
        try flushRun()
        if let direct {
            do { try direct.finish(chunk) } catch { throw error.storageError(path: path, operation: "write") }
            for (offset, bytes) in latePatches {
                do {
                    try descriptor.writeFully(toAbsoluteOffset: offset, bytes, 0..<bytes.count)
                } catch {
                    throw error.storageError(path: path, operation: "write")
                }
            }
            latePatches = []
        } else {
            try flushBuffer()
        }
        do { try descriptor.synchronize() } catch { throw error.storageError(path: path, operation: "fsync") }
    }

    /// Closes the file and removes it (a pack that failed or had nothing to do).
    func discard() {
        try? direct?.waitForWrites()
        try? descriptor.close()
        try? systemUnlink(path)
    }

    // MARK: - Runs and the buffer

    /// Copies the pending run out of the input. Also called before the
    /// input behind it is dropped from the page cache
    /// (``PackPacer/releaseInBackground(_:upTo:)``): left pending, the run
    /// read the last 30 MiB of a file-heavy store's kept transactions from
    /// the disk a second time.
    func flushRun() throws(StorageError) {
        guard runLength > 0 else { return }
        defer {
            runLength = 0
            runEdits.removeAll(keepingCapacity: true)
        }
        let edits = UInt64(max(runEdits.count, 1))
        if direct != nil || runLength / edits < Self.kernelCopyBytesPerEdit {
            try appendToBuffer(source, at: runSource, length: runLength, edits: runEdits, target: runTarget)
            return
        }
        try flushBuffer()
        if scratch.isEmpty { scratch = [UInt8](repeating: 0, count: 1 << 20) }
        do throws(Errno) {
            let copied = try descriptor.copyRange(
                from: source.map.descriptor, sourceOffset: runSource, toAbsoluteOffset: runTarget,
                length: Int(runLength), scratch: &scratch)
            guard copied == Int(runLength) else { throw Errno.ioError }
            for (at, bytes) in runEdits { try descriptor.writeFully(toAbsoluteOffset: runTarget + at, bytes, 0..<bytes.count) }
        } catch {
            throw error.storageError(path: path, operation: "copy records")
        }
        chunk.reset(offset: runTarget + runLength)
        try writeBack(upTo: runTarget + runLength)
    }

    /// Copies a span from the input map into the buffer, at most a buffer
    /// at a time, and applies its edits. A run can be a whole stretch of
    /// unchanged transactions (everything after the pack time is one): taken
    /// in one piece it grew the buffer, and the mapped input, by its length —
    /// 90 MB more at the end of an object-heavy pack. What was copied is
    /// unmapped behind it.
    private func appendToBuffer(
        _ input: PackInput, at offset: UInt64, length: UInt64, edits: [(UInt64, [UInt8])], target: UInt64? = nil
    ) throws(StorageError) {
        var done: UInt64 = 0
        var nextEdit = 0
        while done < length {
            let piece = min(length - done, UInt64(chunk.room))
            let base = chunk.count
            input.map.withBytes(at: Int(offset + done), count: Int(piece)) { chunk.append($0) }
            // Edits come in offset order; one may straddle two pieces.
            while nextEdit < edits.count, edits[nextEdit].0 < done + piece {
                let (at, bytes) = edits[nextEdit]
                let from = max(at, done), to = min(at + UInt64(bytes.count), done + piece)
                if from < to { chunk.overwrite(at: base + Int(from - done), with: bytes[Int(from - at)..<Int(to - at)]) }
                if at + UInt64(bytes.count) > done + piece { break }
                nextEdit += 1
            }
            done += piece
            unmap(input, spanStart: offset, before: offset + done)
            if chunk.isFull { try flushBuffer() }
        }
        if target == nil { position += length }
    }

    /// Unmaps the input behind `end` once a step of it was copied. Spans come
    /// in input order within a phase; a span before the mark starts a new
    /// phase, which unmaps from its own start.
    private func unmap(_ input: PackInput, spanStart: UInt64, before end: UInt64) {
        if spanStart < unmappedUpTo { unmappedUpTo = spanStart }
        input.map.forget(before: end, from: &unmappedUpTo, step: PackInput.unmapStep)
    }

    /// Writes the chunk out: handed to the direct writer (only ever full,
    /// so aligned), or written through the page cache.
    private func flushBuffer() throws(StorageError) {
        guard chunk.count > 0 else { return }
        do throws(Errno) {
            if let direct {
                chunk = try direct.submit(chunk)
                return
            }
            try descriptor.writeFully(toAbsoluteOffset: chunk.offset, chunk.bytes)
        } catch {
            throw error.storageError(path: path, operation: "write")
        }
        let end = chunk.offset + UInt64(chunk.count)
        chunk.reset(offset: end)
        try writeBack(upTo: end)
    }

    /// Starts writeback of each finished 32 MiB step, and drops the step
    /// before it once written (dirty pages cannot be dropped).
    private func writeBack(upTo end: UInt64) throws(StorageError) {
        guard spareCache else { return }
        while end >= writtenBack + 2 * Self.writebackStep {
            let step = writtenBack
            descriptor.startWriteback((step + Self.writebackStep)..<(step + 2 * Self.writebackStep))
            descriptor.dropWrittenPages(step..<(step + Self.writebackStep))
            writtenBack += Self.writebackStep
        }
    }
}
