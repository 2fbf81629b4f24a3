/// What a backup copies: the store as it was when the backup started — the
/// end of its last complete transaction (ZODB's `_pos`, which repozo gets
/// from `FileStorage(…, read_only=True).getSize()`) and the index as of
/// that end, which goes beside the backup as its `.index`.
///
/// The bytes before that end never change (the file is append-only), so
/// the copy can read them while other threads or processes commit after
/// it; what they commit waits for the next backup. A pack of the mounted
/// store may swap files meanwhile: reads go to the file of the snapshot's
/// generation, which the storage keeps open, so the backup is of the store
/// as it was (and the next one sees a packed store and starts a new full).
struct StoreSnapshot {
    let storage: FileStorage
    let end: UInt64
    let index: ObjectIndex
    let generation: UInt64

    init(_ storage: FileStorage) throws(BackupError) {
        self.storage = storage
        do {
            (index, end, generation) = try storage.generationSnapshot()
        } catch {
            throw .storage(error)
        }
    }

    /// `count` bytes at `offset`, which must lie before ``end``.
    func read(at offset: UInt64, count: Int) throws(BackupError) -> [UInt8] {
        precondition(offset + UInt64(count) <= end, "a backup reads past the end it started with")
        do {
            return try storage.read(at: offset, count: count, generation: generation)
        } catch {
            throw .storage(error)
        }
    }

    /// Reads `range` a chunk at a time.
    func forEachChunk(in range: Range<UInt64>, _ body: ([UInt8]) throws(BackupError) -> Void) throws(BackupError) {
        var offset = range.lowerBound
        while offset < range.upperBound {
            let count = Int(min(UInt64(BackupFileReader.chunkSize), range.upperBound - offset))
            try body(try read(at: offset, count: count))
            offset += UInt64(count)
        }
    }
}
