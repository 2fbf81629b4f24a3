/// A full backup and the increments after it up to a time, each matched
/// with its line of the full backup's `.dat`: what a restore reads, in
/// order, and what an increment is added to.
///
/// The files are the ones repozo's `find_files` picks — the newest full
/// backup stamped at or before the time, then every backup file after it
/// up to the time — but unlike repozo the chain is checked before a byte is
/// read: every file needs its `.dat` line (``BackupError/unlisted(path:dat:)``),
/// every line up to the time needs its file (``BackupError/missingFile(path:reason:)``),
/// and the ranges must follow each other from byte 0 (``BackupError/gap(path:expectedStart:start:)``).
/// A file with no line that is newer than every line, while a backup holds
/// the repository's lock, is that backup's, not yet described; it is left
/// out rather than called damage.
public struct BackupChain: Sendable {
    public struct Link: Sendable {
        public var file: RepositoryFile
        public var entry: DatEntry
        /// The file's path in the repository.
        public var path: String
    }

    /// The full backup first, then the increments.
    public var links: [Link]
    /// The `.dat` of the full backup.
    public var datPath: String
    /// Every line of that `.dat`, including those of increments later than the time.
    public var datEntries: [DatEntry]

    public var full: Link { links[0] }
    public var last: Link { links[links.count - 1] }
    /// The size of the store the chain restores: its last range's end.
    public var end: UInt64 { last.entry.end }

    /// - Parameter inProgress: whether another backup is writing into the
    ///   repository now.
    init(_ repository: BackupRepository, upTo stamp: String?, files: [RepositoryFile], inProgress: Bool) throws(BackupError) {
        var candidates = files.filter { $0.kind.isData && (stamp == nil || $0.stamp <= stamp!) }
        var full: RepositoryFile
        while true {
            guard let newest = candidates.last(where: { $0.kind.isFull }) else {
                throw .noBackup(repository: repository.path, at: stamp ?? "now")
            }
            full = newest
            do {
                datEntries = try repository.datEntries(of: full)
                break
            } catch .missingFile(let path, let reason) {
                // A full backup being written gets its .dat last.
                guard inProgress, full == candidates.last else { throw .missingFile(path: path, reason: reason) }
                candidates.removeLast()
            }
        }
        datPath = repository.path(of: full.with(.dat))
        let present = candidates.filter { $0 >= full }
        var lines: [String: DatEntry] = [:]
        for entry in datEntries { lines[entry.fileName] = entry }
        let newestListed = datEntries.compactMap(\.file).max()

        links = []
        for file in present {
            guard let entry = lines[file.name] else {
                if inProgress, file == present.last, newestListed.map({ file > $0 }) ?? true { continue }
                throw .unlisted(path: repository.path(of: file), dat: datPath)
            }
            links.append(Link(file: file, entry: entry, path: repository.path(of: file)))
        }
        let chosen = Set(links.map(\.file.name))
        for entry in datEntries where !chosen.contains(entry.fileName) {
            // Lines of increments after the time do not count.
            if let stamp, let file = entry.file, file.stamp > stamp { continue }
            throw .missingFile(path: repository.join(entry.fileName), reason: "listed in \(datPath)")
        }
        guard !links.isEmpty else {
            throw .missingFile(path: repository.path(of: full), reason: "the .dat of the full backup has no line for it")
        }
        var position: UInt64 = 0
        for link in links {
            guard link.entry.start == position else {
                throw .gap(path: link.path, expectedStart: position, start: link.entry.start)
            }
            position = link.entry.end
        }
    }
}
