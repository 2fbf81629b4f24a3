/// What a backup copies: the store as it was when the backup started — the
/// end of its last complete transaction (ZODB's `_pos`, which repozo gets
/// from `FileStorage(…, read_only=True).getSize()`) and the index as of
/// that end, which goes beside the backup as its `.index`.
///
/// The bytes before that end never change (the file is append-only), so
/// the copy can read them while other threads or processes commit after
/// it; what they commit waits for the next backup.
struct StoreSnapshot {
    let storage: FileStorage
    let end: UInt64
    let index: ObjectIndex

    init(_ storage: FileStorage) throws(BackupError) {
        self.storage = storage
        do {
            (index, end) = try storage.snapshot()
        } catch {
            throw .storage(error)
        }
    }

    /// `count` bytes at `offset`, which must lie before ``end``.
    func read(at offset: UInt64, count: Int) throws(BackupError) -> [UInt8] {
        precondition(offset + UInt64(count) <= end, "a backup reads past the end it started with")
        do {
            return try storage.read(at: offset, count: count)
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
