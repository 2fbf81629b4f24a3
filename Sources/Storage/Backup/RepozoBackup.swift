#if canImport(Glibc)
import Glibc
#endif
import Crypto
import SystemPackage

/// What `backup` is asked for: `full` always writes a full backup;
/// `incremental` and `auto` write an increment when the repository is a
/// prefix of the store, a full backup when it is not (the store was packed
/// or replaced) or is empty, and nothing when nothing changed — repozo's
/// `-B` (`-B -F` for `full`).
public enum BackupMode: String, Sendable, CaseIterable {
    case full, incremental, auto
}

/// What a backup did.
public struct BackupResult: Sendable, Equatable {
    public enum Kind: String, Sendable { case full, incremental, nothing }
    public var kind: Kind
    /// The backup file written, nil when nothing was.
    public var file: String?
    /// The bytes of Data.fs the repository holds now: `[0, end)`; the
    /// backup file holds `[start, end)`.
    public var start: UInt64
    public var end: UInt64
}

extension BackupRepository {
    /// Backs `storage` up into this repository, as `repozo -B` does
    /// (zodb_formats §4.3): the copy stops at the end of the last complete
    /// transaction as of the start, so commits made meanwhile are left for
    /// the next backup; `.index` (the storage's index at that end) is
    /// written beside the backup file, then the file (through `tmp.tmp`,
    /// fsynced, renamed), then its `.dat` line. Bytes stream through a
    /// 1 MiB buffer.
    ///
    /// - Parameters:
    ///   - quick: decide from the md5 of the last `.dat` range only (`-Q`)
    ///     instead of reading the whole repository and store prefix.
    ///   - gzip: write `.fsz`/`.deltafsz`.
    ///   - now: seconds since the epoch, for the file names.
    public func backup(_ storage: FileStorage, mode: BackupMode, quick: Bool = false, gzip: Bool = false,
                       now: Double, progress: (BackupProgress) -> Void = { _ in }) throws(BackupError) -> BackupResult {
        let (index, end): (ObjectIndex, UInt64)
        do { (index, end) = try storage.snapshot() } catch { throw .storage(error) }
        var start: UInt64 = 0
        if mode != .full, let (_, entries) = try latestDat(), let last = entries.last {
            if quick {
                // The last range must still be in the store with the same bytes.
                if end >= last.end, try lastBackupStillMatches(storage, last, progress: progress) {
                    start = last.end
                }
            } else {
                let (size, sum) = try repositoryContent(progress: progress)
                if end >= size, try md5(of: storage, 0..<size, progress: progress) == sum { start = size }
            }
            if start > 0 && start == end { return BackupResult(kind: .nothing, file: nil, start: start, end: end) }
        }
        let full = start == 0
        let stamp = try newStamp(now)
        let kind: RepositoryFile.Kind = full ? (gzip ? .fullGzip : .full) : (gzip ? .incrementalGzip : .incremental)
        let file = RepositoryFile(stamp: stamp, kind: kind)
        let destination = path(of: file)
        if access(destination, F_OK) == 0 {
            throw .io(path: destination, operation: "write a backup (a file of that name exists)", errno: Errno.fileExists.rawValue)
        }
        do {
            try IndexFile.save(position: end, index: index, path: path(of: RepositoryFile(stamp: stamp, kind: .index)))
        } catch {
            throw .storage(error)
        }
        let sum = try copy(storage, start..<end, to: destination, gzip: gzip, progress: progress)
        let entry = DatEntry(path: destination, start: start, end: end, md5: sum)
        let dat = full ? RepositoryFile(stamp: stamp, kind: .dat) : try latestDat()!.0
        try append(entry.line, to: path(of: dat), create: full)
        return BackupResult(kind: full ? .full : .incremental, file: destination, start: start, end: end)
    }

    /// The stamp for a backup made at `now`: one second after the newest
    /// file of the repository if `now` is not later. Two backups within one
    /// second would otherwise share a stamp — and an `.index` — and a
    /// restore, which sorts `.fs` after `.deltafs` of the same stamp, would
    /// stop at the full backup. A stamp is never ahead of the wall clock
    /// (repozo ignores backups from the future): if it would be, this waits
    /// for that second, at most one.
    func newStamp(_ now: Double) throws(BackupError) -> String {
        let stamp = RepositoryFile.stamp(for: now)
        guard let newest = try files().last?.stamp, newest >= stamp, let time = RepositoryFile.time(of: newest) else {
            return stamp
        }
        let next = time + 1
        let wait = next - systemWallClock()
        if wait > 0 { systemSleep(seconds: min(wait + 0.01, 1.5)) }
        return RepositoryFile.stamp(for: next)
    }

    /// `--quick`: is the store still a continuation of the repository? Repozo
    /// reads the whole last range for its md5 (for the first increment
    /// after a full backup: the whole file). An uncompressed backup file
    /// lets this compare its last MiB with the same bytes of the store
    /// instead — time proportional to nothing — which a pack, a restore of
    /// another file or any rewrite of that region changes. A gzip file
    /// would have to be decompressed to its end, so there the md5 of the
    /// range decides, as in repozo.
    func lastBackupStillMatches(_ storage: FileStorage, _ last: DatEntry,
                                progress: (BackupProgress) -> Void) throws(BackupError) -> Bool {
        guard let file = RepositoryFile(name: last.fileName), !file.kind.isGzip else {
            return try md5(of: storage, last.start..<last.end, progress: progress) == last.md5
        }
        let length = last.end - last.start
        let tail = min(length, 1 << 20)
        let source = path(of: file)
        let backup = try openBackupFile(source, .readOnly)
        defer { try? backup.close() }
        var saved = [UInt8](repeating: 0, count: Int(tail))
        let n: Int
        do {
            n = try saved.withUnsafeMutableBytes { try backup.read(fromAbsoluteOffset: Int64(length - tail), into: $0) }
        } catch {
            throw (error as? Errno ?? .ioError).backupError(source, "read")
        }
        guard n == Int(tail) else { return false }
        let current: [UInt8]
        do { current = try storage.read(at: last.end - tail, count: Int(tail)) } catch { throw .storage(error) }
        return current == saved
    }

    /// The size and md5 of the repository's data as a restore of the newest
    /// chain would produce it (`concat`).
    func repositoryContent(progress: (BackupProgress) -> Void) throws(BackupError) -> (UInt64, String) {
        var hash = Insecure.MD5()
        var size: UInt64 = 0
        for file in try chain(upTo: nil) {
            var reader = try BackupFileReader(path: path(of: file), gzip: file.kind.isGzip)
            defer { reader.close() }
            while true {
                let bytes = try reader.read(upTo: 1 << 20)
                if bytes.isEmpty { break }
                hash.update(data: bytes)
                size += UInt64(bytes.count)
                progress(BackupProgress(phase: "reading the repository", done: size, total: 0))
            }
        }
        return (size, Self.hex(hash.finalize()))
    }

    func md5(of storage: FileStorage, _ range: Range<UInt64>, progress: (BackupProgress) -> Void) throws(BackupError) -> String {
        var hash = Insecure.MD5()
        var offset = range.lowerBound
        while offset < range.upperBound {
            let count = Int(min(1 << 20, range.upperBound - offset))
            do { hash.update(data: try storage.read(at: offset, count: count)) } catch { throw .storage(error) }
            offset += UInt64(count)
            progress(BackupProgress(phase: "comparing with the repository", done: offset - range.lowerBound, total: UInt64(range.count)))
        }
        return Self.hex(hash.finalize())
    }

    /// Copies `range` of the store to `destination` (through `tmp.tmp`),
    /// returning the md5 of the uncompressed bytes.
    func copy(_ storage: FileStorage, _ range: Range<UInt64>, to destination: String, gzip: Bool,
              progress: (BackupProgress) -> Void) throws(BackupError) -> String {
        let temporary = join("tmp.tmp")
        let output = try openBackupFile(temporary, .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite, .groupRead, .otherRead])
        var closed = false
        defer { if !closed { try? output.close(); _ = systemUnlinkQuietly(temporary) } }
        let compressor = gzip ? try GzipWriter(output: output, path: temporary) : nil
        var hash = Insecure.MD5()
        var offset = range.lowerBound
        while offset < range.upperBound {
            let count = Int(min(1 << 20, range.upperBound - offset))
            let bytes: [UInt8]
            do { bytes = try storage.read(at: offset, count: count) } catch { throw .storage(error) }
            hash.update(data: bytes)
            if let compressor {
                try compressor.write(bytes)
            } else {
                do { _ = try bytes.withUnsafeBytes { try output.writeAll($0) } } catch {
                    throw (error as? Errno ?? .ioError).backupError(temporary, "write")
                }
            }
            offset += UInt64(count)
            progress(BackupProgress(phase: "copying", done: offset - range.lowerBound, total: UInt64(range.count)))
        }
        try compressor?.finish()
        closed = true
        try moveIntoPlace(output, temporary, destination)
        return Self.hex(hash.finalize())
    }

    func append(_ line: String, to datPath: String, create: Bool) throws(BackupError) {
        let options: FileDescriptor.OpenOptions = create ? [.create, .exclusiveCreate, .append] : [.append]
        let file = try openBackupFile(datPath, .writeOnly, options: options, permissions: [.ownerReadWrite, .groupRead, .otherRead])
        defer { try? file.close() }
        do {
            _ = try Array(line.utf8).withUnsafeBytes { try file.writeAll($0) }
            try file.synchronize()
        } catch {
            throw (error as? Errno ?? .ioError).backupError(datPath, "write")
        }
    }

    static func hex(_ digest: some Sequence<UInt8>) -> String {
        digest.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}

/// The end of every file the backup code writes: fsync, close, rename the
/// temporary file over `destination` — so `destination` is either absent
/// (or as it was) or complete. The temporary file is removed on failure.
func moveIntoPlace(_ file: FileDescriptor, _ temporary: String, _ destination: String) throws(BackupError) {
    do {
        defer { try? file.close() }
        try file.synchronize()
    } catch {
        _ = systemUnlinkQuietly(temporary)
        throw error.backupError(destination, "write")
    }
    do {
        try systemRename(temporary, destination)
    } catch {
        _ = systemUnlinkQuietly(temporary)
        throw error.backupError(destination, "rename")
    }
}

func systemUnlinkQuietly(_ path: String) -> Bool {
    (try? systemUnlink(path)) != nil
}
