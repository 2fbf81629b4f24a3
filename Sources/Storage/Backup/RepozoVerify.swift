extension BackupRepository {
    /// `repozo -V`, over every chain rather than the newest only: for each
    /// line of each `.dat`, the file exists and has the recorded
    /// (uncompressed) size and, unless `quick` (`-V -Q`), md5. Also reported,
    /// because a restore would refuse them: ranges that do not follow each
    /// other, and backup files no `.dat` describes (except the one a backup
    /// running now is writing). Returns the problems, an empty list when
    /// all is well; throws only when the repository cannot be listed.
    public func verify(quick: Bool = false, progress: (BackupProgress) -> Void = { _ in }) throws(BackupError) -> [BackupError] {
        let files = try files()
        let inProgress = RepositoryLock.isHeld(self)
        var problems: [BackupError] = []
        var listed: Set<String> = []
        var chains: [(dat: String, entries: [DatEntry])] = []
        for full in files where full.kind.isFull {
            do {
                chains.append((path(of: full.with(.dat)), try datEntries(of: full)))
            } catch {
                if !(inProgress && full == files.last(where: { $0.kind.isData })) { problems.append(error) }
            }
        }
        let total = chains.flatMap(\.entries).reduce(UInt64(0)) { $0 + $1.size }
        var done: UInt64 = 0
        for (dat, entries) in chains {
            var position: UInt64 = 0
            for entry in entries {
                let source = join(entry.fileName)
                listed.insert(entry.fileName)
                if entry.start != position { problems.append(.gap(path: source, expectedStart: position, start: entry.start)) }
                position = entry.end
                do throws(BackupError) {
                    try check(source, against: entry, quick: quick) { progress(BackupProgress(phase: "verifying \(entry.fileName)", done: done + $0, total: total)) }
                } catch .missingFile(let path, _) {
                    problems.append(.missingFile(path: path, reason: "listed in \(dat)"))
                } catch {
                    problems.append(error)
                }
                done += entry.size
            }
        }
        let newest = files.last(where: { $0.kind.isData })
        for file in files where file.kind.isData && !listed.contains(file.name) {
            if inProgress && file == newest { continue }
            let full = files.last { $0.kind.isFull && $0 <= file } ?? file
            problems.append(.unlisted(path: path(of: file), dat: path(of: full.with(.dat))))
        }
        return problems
    }

    /// One file against its `.dat` line.
    private func check(_ source: String, against entry: DatEntry, quick: Bool, progress: (UInt64) -> Void) throws(BackupError) {
        let gzip = entry.file?.kind.isGzip ?? entry.fileName.hasSuffix("fsz")
        if quick && !gzip {
            let size = try fileSize(source)
            guard size == entry.size else { throw .sizeMismatch(path: source, expected: entry.size, actual: size) }
            return
        }
        let reader = try BackupFileReader(path: source, gzip: gzip)
        let ((), md5) = try BackgroundMD5.hashing { (hasher) throws(BackupError) in
            while true {
                let bytes = try reader.read()
                if bytes.isEmpty { break }
                if !quick { hasher.update(bytes) }
                progress(reader.size)
            }
        }
        guard reader.size == entry.size else { throw .sizeMismatch(path: source, expected: entry.size, actual: reader.size) }
        guard quick || md5 == entry.md5 else { throw .checksumMismatch(path: source, expected: entry.md5, actual: md5) }
    }
}
