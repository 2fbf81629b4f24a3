#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

extension BackupRepository {
    /// Restores the store as of `stamp` (the newest backup when nil) into
    /// `output`, as `repozo -R [-D]` does, but checked: every file's size
    /// and md5 are compared with its `.dat` line and every increment must
    /// start where the one before ended; on any mismatch nothing is left at
    /// `output` and the error names the file. The data goes to
    /// `output.part`, is fsynced and renamed into place only when complete;
    /// then the backup's `.index` is installed as `output.index`, so the
    /// restored store opens without a scan (seed 001).
    ///
    /// - Returns: the size of the restored file.
    @discardableResult
    public func restore(upTo stamp: String?, output: String,
                        progress: (BackupProgress) -> Void = { _ in }) throws(BackupError) -> UInt64 {
        let chain = try chain(upTo: stamp)
        var lines: [String: DatEntry] = [:]
        for entry in try datEntries(of: chain[0]) { lines[entry.fileName] = entry }
        let total = chain.compactMap { lines[$0.name] }.reduce(UInt64(0)) { $0 + ($1.end - $1.start) }
        let temporary = output + ".part"
        let file = try openBackupFile(temporary, .writeOnly, options: [.create, .truncate],
                                      permissions: [.ownerReadWrite, .groupRead, .otherRead])
        var finished = false
        defer {
            if !finished {
                try? file.close()
                _ = systemUnlinkQuietly(temporary)
            }
        }
        var position: UInt64 = 0
        for backup in chain {
            let source = path(of: backup)
            guard let entry = lines[backup.name] else {
                throw .missingFile(path: source, reason: "the .dat of \(chain[0].name) has no line for it")
            }
            guard entry.start == position else { throw .gap(path: source, expectedStart: position, start: entry.start) }
            var reader = try BackupFileReader(path: source, gzip: backup.kind.isGzip)
            defer { reader.close() }
            while true {
                let bytes = try reader.read(upTo: 1 << 20)
                if bytes.isEmpty { break }
                do { _ = try bytes.withUnsafeBytes { try file.writeAll($0) } } catch {
                    throw (error as? Errno ?? .ioError).backupError(temporary, "write")
                }
                progress(BackupProgress(phase: "restoring \(backup.name)", done: position + reader.size, total: total))
            }
            guard reader.size == entry.end - entry.start else {
                throw .sizeMismatch(path: source, expected: entry.end - entry.start, actual: reader.size)
            }
            guard reader.md5 == entry.md5 else { throw .checksumMismatch(path: source, expected: entry.md5, actual: reader.md5) }
            position = entry.end
        }
        finished = true
        try moveIntoPlace(file, temporary, output)
        try installIndex(of: chain[chain.count - 1], for: output)
        return position
    }

    /// Copies the backup's `.index` to `output.index` (through a temporary
    /// file); without one, removes a stale `output.index` so the restored
    /// store is scanned rather than trusted to an index of another file.
    func installIndex(of backup: RepositoryFile, for output: String) throws(BackupError) {
        let target = output + ".index"
        let bytes: [UInt8]
        do {
            bytes = try Self.readAll(path(of: RepositoryFile(stamp: backup.stamp, kind: .index)))
        } catch .missingFile {
            _ = systemUnlinkQuietly(target)
            return
        }
        let temporary = target + ".part"
        let file = try openBackupFile(temporary, .writeOnly, options: [.create, .truncate],
                                      permissions: [.ownerReadWrite, .groupRead, .otherRead])
        do {
            _ = try bytes.withUnsafeBytes { try file.writeAll($0) }
        } catch {
            try? file.close()
            _ = systemUnlinkQuietly(temporary)
            throw (error as? Errno ?? .ioError).backupError(target, "write")
        }
        try moveIntoPlace(file, temporary, target)
    }

    /// `repozo -V`: for every line of every `.dat`, the file exists and has
    /// the recorded size and (unless `quick`) md5. Returns what is wrong, an
    /// empty list when all is well.
    public func verify(quick: Bool = false, progress: (BackupProgress) -> Void = { _ in }) throws(BackupError) -> [BackupError] {
        var problems: [BackupError] = []
        for dat in try files() where dat.kind == .dat {
            let entries: [DatEntry]
            do {
                entries = try datEntries(of: RepositoryFile(stamp: dat.stamp, kind: .full))
            } catch {
                problems.append(error)
                continue
            }
            for entry in entries {
                let source = join(entry.fileName)
                do throws(BackupError) {
                    let gzip = RepositoryFile(name: entry.fileName)?.kind.isGzip ?? entry.fileName.hasSuffix("z")
                    var reader = try BackupFileReader(path: source, gzip: gzip)
                    defer { reader.close() }
                    if quick && !gzip {
                        var status = stat()
                        guard stat(source, &status) == 0 else { throw Errno(rawValue: errno).backupError(source, "stat") }
                        if UInt64(status.st_size) != entry.end - entry.start {
                            throw .sizeMismatch(path: source, expected: entry.end - entry.start, actual: UInt64(status.st_size))
                        }
                        continue
                    }
                    while try !reader.read(upTo: 1 << 20).isEmpty {
                        progress(BackupProgress(phase: "verifying \(entry.fileName)", done: reader.size, total: entry.end - entry.start))
                    }
                    if reader.size != entry.end - entry.start {
                        throw .sizeMismatch(path: source, expected: entry.end - entry.start, actual: reader.size)
                    }
                    if !quick && reader.md5 != entry.md5 {
                        throw .checksumMismatch(path: source, expected: entry.md5, actual: reader.md5)
                    }
                } catch {
                    problems.append(error)
                }
            }
        }
        return problems
    }
}
