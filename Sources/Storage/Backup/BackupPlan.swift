/// Which backup to write — repozo's `do_backup` decision (zodb_formats
/// §4.3) — and why.
///
/// Repozo's default check reads the whole repository and the store twice
/// (md5 of the store, md5 of its first `reposz` bytes, md5 of the
/// concatenated backups). Here the store is read once: each range
/// `[start, end)` of the newest chain is hashed from the store and compared
/// with the md5 its `.dat` line recorded when the backup was written, the
/// last range first (a pack or a replaced file shows there soonest). The
/// backup files themselves are only checked for presence and size (the
/// `.dat`, `stat`, the gzip trailer); reading them is what `verify` and
/// every restore do. `quick` (`-Q`) checks less: for an uncompressed last
/// backup, its last MiB against the same bytes of the store — any rewrite
/// of the file (pack, restore of another store) changes those — and for a
/// gzip one the md5 of its range, as repozo does.
struct BackupPlan {
    var kind: BackupResult.Kind
    /// Where the new backup file starts in the store (0 for a full backup).
    var start: UInt64
    var reason: String
    /// The chain an increment is added to.
    var chain: BackupChain?
}

extension BackupRepository {
    /// The bytes of the store `quick` compares with the end of an uncompressed last backup.
    static let quickTail: UInt64 = 1 << 20

    func plan(_ snapshot: StoreSnapshot, mode: BackupMode, quick: Bool,
              progress: (BackupProgress) -> Void) throws(BackupError) -> BackupPlan {
        func full(_ reason: String) throws(BackupError) -> BackupPlan {
            if mode == .incremental { throw .fullBackupNeeded(reason: reason) }
            return BackupPlan(kind: .full, start: 0, reason: reason)
        }
        if mode == .full { return BackupPlan(kind: .full, start: 0, reason: "a full backup was asked for") }
        let chain: BackupChain
        do {
            chain = try BackupChain(self, upTo: nil, files: try files(), inProgress: false)
        } catch .noBackup {
            return try full("the repository has no full backup yet")
        } catch {
            return try full("the newest chain of backups is damaged: \(error)")
        }
        for link in chain.links {
            let recorded = try BackupFileReader.recordedSize(of: link.path, gzip: link.file.kind.isGzip)
            guard BackupFileReader.matches(recorded, gzip: link.file.kind.isGzip, expected: link.entry.size) else {
                return try full("\(link.path) is \(recorded) bytes, its .dat line says \(link.entry.size)")
            }
        }
        guard snapshot.end >= chain.end else {
            return try full("the store (\(snapshot.end) bytes) is shorter than the backups (\(chain.end)): packed or truncated")
        }
        let changed = "the store's bytes differ from the backups' (packed or replaced)"
        if quick {
            guard try lastBackupContinues(snapshot, chain.last, progress: progress) else { return try full(changed) }
        } else {
            let ordered = [chain.last] + chain.links.dropLast()
            var done: UInt64 = 0
            for link in ordered {
                let range = link.entry.start..<link.entry.end
                let md5 = try md5(of: snapshot, range) { offset in
                    progress(BackupProgress(phase: "comparing with the backups", done: done + offset, total: chain.end))
                }
                done += UInt64(range.count)
                guard md5 == link.entry.md5 else { return try full("\(changed): bytes \(range) are not those of \(link.path)") }
            }
        }
        if snapshot.end == chain.end {
            return BackupPlan(kind: .nothing, start: chain.end, reason: "no transaction since the last backup", chain: chain)
        }
        return BackupPlan(kind: .incremental, start: chain.end, reason: "the store continues the backups from byte \(chain.end)",
                          chain: chain)
    }

    /// `--quick`: is the store still a continuation of the last backup?
    func lastBackupContinues(_ snapshot: StoreSnapshot, _ last: BackupChain.Link,
                             progress: (BackupProgress) -> Void) throws(BackupError) -> Bool {
        let entry = last.entry
        guard !last.file.kind.isGzip else {
            let md5 = try md5(of: snapshot, entry.start..<entry.end) { offset in
                progress(BackupProgress(phase: "comparing with the last backup", done: offset, total: entry.size))
            }
            return md5 == entry.md5
        }
        let tail = min(entry.size, Self.quickTail)
        guard tail > 0 else { return true }
        let file = try openBackupFile(last.path, .readOnly)
        defer { try? file.close() }
        var saved = [UInt8](repeating: 0, count: Int(tail))
        let n: Int
        do {
            n = try file.readFully(fromAbsoluteOffset: entry.size - tail, count: Int(tail), into: &saved, at: 0)
        } catch {
            throw error.backupError(last.path, "read")
        }
        guard n == Int(tail) else { return false }
        return try snapshot.read(at: entry.end - tail, count: Int(tail)) == saved
    }

    /// The md5 of `range` of the store, hashed on a second thread while
    /// this one reads; `progress` gets the bytes done.
    func md5(of snapshot: StoreSnapshot, _ range: Range<UInt64>, progress: (UInt64) -> Void) throws(BackupError) -> String {
        let ((), md5) = try BackgroundMD5.hashing { (hasher) throws(BackupError) in
            var done: UInt64 = 0
            try snapshot.forEachChunk(in: range) { (bytes) throws(BackupError) in
                hasher.update(bytes)
                done += UInt64(bytes.count)
                progress(done)
            }
        }
        return md5
    }
}
