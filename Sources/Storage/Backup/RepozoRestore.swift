import SystemPackage

extension BackupRepository {
    /// Restores the store as of `stamp` (the newest backup when nil) into
    /// `output`, as `repozo -R [-D]` does, but checked (``BackupChain``
    /// before anything is written, then every file's size and md5 against
    /// its `.dat` line as it streams — repozo's `-w`); on any mismatch the
    /// error names the file and nothing is left at `output`, which keeps
    /// whatever it held before. The data goes to `output.part`, is fsynced
    /// and renamed into place only when complete. Then the `.index` of the
    /// last backup read is installed as `output.index` (repozo copies it
    /// too), once it is known to load and to end where the restored file
    /// ends, so the restored store opens without a scan (seed 001); an
    /// older `output.index` is removed either way, as it describes another
    /// file.
    @discardableResult
    public func restore(upTo stamp: String?, output: String,
                        progress: (BackupProgress) -> Void = { _ in }) throws(BackupError) -> RestoreResult {
        let chain = try chain(upTo: stamp)
        let writer = try BackupFileWriter(temporary: output + ".part", gzip: false, dropCache: true)
        var done: UInt64 = 0
        for link in chain.links {
            let reader = try BackupFileReader(path: link.path, gzip: link.file.kind.isGzip)
            let ((), md5) = try BackgroundMD5.hashing { (hasher) throws(BackupError) in
                while true {
                    let bytes = try reader.read()
                    if bytes.isEmpty { break }
                    guard reader.size <= link.entry.size else {
                        throw .sizeMismatch(path: link.path, expected: link.entry.size, actual: reader.size)
                    }
                    hasher.update(bytes)
                    try writer.write(bytes)
                    done += UInt64(bytes.count)
                    progress(BackupProgress(phase: "restoring \(link.file.name)", done: done, total: chain.end))
                }
            }
            guard reader.size == link.entry.size else {
                throw .sizeMismatch(path: link.path, expected: link.entry.size, actual: reader.size)
            }
            guard md5 == link.entry.md5 else { throw .checksumMismatch(path: link.path, expected: link.entry.md5, actual: md5) }
        }

        let folder = Self.folder(of: output)
        let target = output + ".index"
        let source = path(of: chain.last.file.with(.index))
        let (index, note) = try prepareIndex(source, for: chain, target: target)
        unlinkQuietly(target)
        try writer.commit(to: output, folder: folder)
        do {
            try index?.commit(to: target, folder: folder)
        } catch {
            return RestoreResult(size: chain.end, files: chain.links.map(\.path), index: nil,
                                 indexNote: "\(error); the store will be scanned when opened")
        }
        return RestoreResult(size: chain.end, files: chain.links.map(\.path), index: index == nil ? nil : target, indexNote: note)
    }

    /// The backup's `.index`, copied to `target.part` when it loads and
    /// ends where the chain does; otherwise nil and why.
    private func prepareIndex(_ source: String, for chain: BackupChain, target: String) throws(BackupError) -> (BackupFileWriter?, String?) {
        guard fileExists(source) else { return (nil, "the backup has no index (\(source)); the store will be scanned when opened") }
        let position: UInt64
        do {
            position = try IndexFile.load(path: source).position
        } catch {
            return (nil, "\(error); the store will be scanned when opened")
        }
        guard position == chain.end else {
            return (nil, "\(source) ends at byte \(position), the restored store at \(chain.end); the store will be scanned when opened")
        }
        let writer = try BackupFileWriter(temporary: target + ".part", gzip: false, dropCache: false)
        let reader = try BackupFileReader(path: source, gzip: false)
        while true {
            let bytes = try reader.read()
            if bytes.isEmpty { break }
            try writer.write(bytes)
        }
        return (writer, nil)
    }

    /// The folder a path is in, for the fsync after a rename.
    static func folder(of path: String) -> String {
        let folder = FilePath(path).removingLastComponent().string
        return folder.isEmpty ? "." : folder
    }
}
