/// A repozo repository: a folder of full and incremental backups with their
/// `.dat` and `.index` files (zodb_formats §4). Both zodbfs and repozo
/// write it and either restores what the other wrote. ``backup(_:mode:quick:gzip:now:progress:)``,
/// ``restore(upTo:output:progress:)`` and ``verify(quick:progress:)`` are
/// repozo's `-B`, `-R` and `-V`.
public struct BackupRepository: Sendable {
    /// The folder, as given: it is also the prefix of the paths in `.dat`
    /// lines, as repozo writes them (`os.path.join(repository, name)`).
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public func path(of file: RepositoryFile) -> String { join(file.name) }

    func join(_ name: String) -> String { path.hasSuffix("/") ? path + name : path + "/" + name }

    /// Every file of the repository, in repozo's (string) order; other
    /// names (`tmp.tmp`, files of other tools) are left out.
    public func files() throws(BackupError) -> [RepositoryFile] {
        try folderEntries(path).compactMap { RepositoryFile(name: $0) }.sorted()
    }

    /// The lines of the `.dat` of the full backup `full`.
    public func datEntries(of full: RepositoryFile) throws(BackupError) -> [DatEntry] {
        let datPath = path(of: full.with(.dat))
        let text: String
        do {
            text = String(decoding: try readSmallFile(datPath), as: UTF8.self)
        } catch .missingFile {
            throw .missingFile(path: datPath, reason: "the .dat of \(full.name)")
        }
        return try DatEntry.lines(of: text, path: datPath)
    }

    /// The full backup a restore to `stamp` (the newest, when nil) starts
    /// from and the increments after it, each with its `.dat` line, checked
    /// to be complete (see ``BackupChain``).
    public func chain(upTo stamp: String? = nil) throws(BackupError) -> BackupChain {
        try BackupChain(self, upTo: stamp, files: try files(), inProgress: RepositoryLock.isHeld(self))
    }
}
