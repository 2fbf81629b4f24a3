import SystemPackage

extension BackupRepository {
    /// Backs `storage` up into this repository, as `repozo -B` does
    /// (zodb_formats §4.3; ``BackupPlan`` says how the kind is chosen): the
    /// copy stops at the end of the last complete transaction as of the
    /// start, so commits made meanwhile are left for the next backup. In
    /// repozo's order, the `.index` (the storage's index at that end) is
    /// written first, then the backup file through `tmp.tmp` (fsynced,
    /// renamed), then its `.dat` line (fsynced); a failure removes what this
    /// backup wrote. Bytes stream through 1 MiB chunks, hashed on a second
    /// thread. The repository is locked meanwhile (``RepositoryLock``).
    ///
    /// - Parameters:
    ///   - quick: decide from the last backup only (`-Q`), see ``BackupPlan``.
    ///   - gzip: write `.fsz`/`.deltafsz` (`-z`).
    ///   - now: seconds since the epoch, for the file names. A backup in the
    ///     same second as the newest one (or one second before it) is named a
    ///     second after it, so the names keep the backups' order.
    public func backup(_ storage: FileStorage, mode: BackupMode, quick: Bool = false, gzip: Bool = false,
                       now: Double, progress: (BackupProgress) -> Void = { _ in }) throws(BackupError) -> BackupResult {
        let lock = try RepositoryLock(self)
        defer { lock.release() }
        let snapshot = try StoreSnapshot(storage)
        let plan = try plan(snapshot, mode: mode, quick: quick, progress: progress)
        guard plan.kind != .nothing else {
            return BackupResult(kind: .nothing, file: nil, start: plan.start, end: snapshot.end, reason: plan.reason)
        }
        let full = plan.kind == .full
        let file = RepositoryFile(stamp: try newStamp(now), kind: .data(full: full, gzip: gzip))
        let destination = path(of: file)
        let indexPath = path(of: file.with(.index))
        let datPath = full ? path(of: file.with(.dat)) : plan.chain!.datPath
        for existing in [destination] + (full ? [datPath] : []) where fileExists(existing) {
            throw .exists(path: existing)
        }
        progress(BackupProgress(phase: "writing the index", done: 0, total: 0))
        do {
            try IndexFile.save(position: snapshot.end, index: snapshot.index, path: indexPath)
        } catch {
            throw .storage(error)
        }
        var renamed = false
        do throws(BackupError) {
            let md5 = try copy(snapshot, plan.start..<snapshot.end, to: destination, gzip: gzip, progress: progress)
            renamed = true
            try append(DatEntry(path: destination, start: plan.start, end: snapshot.end, md5: md5).line, to: datPath, create: full)
        } catch {
            unlinkQuietly(indexPath)
            if renamed { unlinkQuietly(destination) }
            throw error
        }
        return BackupResult(kind: plan.kind, file: destination, start: plan.start, end: snapshot.end, reason: plan.reason)
    }

    /// The stamp of a new backup at `now`, later than every backup file's.
    /// Two backups within one second would otherwise share a stamp — and an
    /// `.index` — and a restore, which sorts `.fs` after `.deltafs` of the
    /// same stamp, would stop at the full backup; so a backup in the same
    /// second as the newest (or the one after) is stamped a second after
    /// it. A stamp is never ahead of the wall clock (repozo ignores backups
    /// from the future): if it would be, this waits for that second, at
    /// most about one. A newest stamp further ahead means the clock went
    /// back, and is an error.
    func newStamp(_ now: Double) throws(BackupError) -> String {
        let stamp = RepositoryFile.stamp(for: now)
        guard let newest = try files().last(where: { $0.kind.isData })?.stamp, newest >= stamp else { return stamp }
        guard let newestTime = RepositoryFile.time(of: newest), newestTime + 1 - now <= 2 else {
            throw .clockBehind(newest: newest, now: stamp)
        }
        let next = newestTime + 1
        let wait = next - systemWallClock()
        if wait > 0 { systemSleep(seconds: min(wait + 0.01, 2.1)) }
        return RepositoryFile.stamp(for: next)
    }

    /// Copies `range` of the store to `destination` (through `tmp.tmp`),
    /// returning the md5 of the uncompressed bytes.
    func copy(_ snapshot: StoreSnapshot, _ range: Range<UInt64>, to destination: String, gzip: Bool,
              progress: (BackupProgress) -> Void) throws(BackupError) -> String {
        let writer = try BackupFileWriter(temporary: join("tmp.tmp"), gzip: gzip, dropCache: true)
        let ((), md5) = try BackgroundMD5.hashing { (hasher) throws(BackupError) in
            var done: UInt64 = 0
            try snapshot.forEachChunk(in: range) { (bytes) throws(BackupError) in
                hasher.update(bytes)
                try writer.write(bytes)
                done += UInt64(bytes.count)
                progress(BackupProgress(phase: gzip ? "copying (gzip)" : "copying", done: done, total: UInt64(range.count)))
            }
        }
        try writer.commit(to: destination, folder: path)
        return md5
    }

    /// Appends a line to a `.dat` (creating it for a full backup) and fsyncs it.
    func append(_ line: String, to datPath: String, create: Bool) throws(BackupError) {
        let options: FileDescriptor.OpenOptions = create ? [.create, .exclusiveCreate, .append] : [.append]
        let file = try openBackupFile(datPath, .writeOnly, options: options, permissions: backupFilePermissions)
        defer { try? file.close() }
        do {
            _ = try Array(line.utf8).withUnsafeBytes { try file.writeAll($0) }
            try file.synchronize()
        } catch {
            throw backupError(error, datPath, "write")
        }
        if create { synchronizeFolder(path) }
    }
}
