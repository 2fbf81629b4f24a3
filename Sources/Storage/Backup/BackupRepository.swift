#if canImport(Glibc)
import Glibc
#endif
import Crypto
import SystemPackage

/// A repozo repository: a folder of full and incremental backups with their
/// `.dat` and `.index` files (zodb_formats §4). Both zodbfs and repozo
/// write it and either restores what the other wrote.
public struct BackupRepository: Sendable {
    /// The folder, as given: it is also the prefix of the paths in `.dat`
    /// lines, as repozo writes them (`os.path.join(repository, name)`).
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public func path(of file: RepositoryFile) -> String { join(file.name) }

    func join(_ name: String) -> String { path.hasSuffix("/") ? path + name : path + "/" + name }

    /// Every repository file, in repozo's (string) order.
    public func files() throws(BackupError) -> [RepositoryFile] {
        guard let directory = opendir(path) else { throw Errno(rawValue: errno).backupError(path, "open the repository") }
        defer { closedir(directory) }
        var result: [RepositoryFile] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if let file = RepositoryFile(name: name) { result.append(file) }
        }
        return result.sorted()
    }

    /// The backup files a restore to `stamp` (or the newest, when nil)
    /// uses, oldest first: the newest full backup at or before it and the
    /// increments after it (`find_files`).
    public func chain(upTo stamp: String?) throws(BackupError) -> [RepositoryFile] {
        var chain: [RepositoryFile] = []
        for file in try files().reversed() where file.kind.isData {
            if let stamp, file.stamp > stamp { continue }
            chain.append(file)
            if file.kind.isFull { return chain.reversed() }
        }
        throw .noBackup(repository: path, at: stamp ?? "now")
    }

    /// The lines of the `.dat` of the full backup `full`.
    public func datEntries(of full: RepositoryFile) throws(BackupError) -> [DatEntry] {
        let datPath = path(of: RepositoryFile(stamp: full.stamp, kind: .dat))
        let text: String
        do {
            text = String(decoding: try Self.readAll(datPath), as: UTF8.self)
        } catch .missingFile {
            throw .missingFile(path: datPath, reason: "the .dat of \(full.name) is missing")
        }
        var entries: [DatEntry] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            guard let entry = DatEntry(line: line) else {
                throw .badDatLine(path: datPath, line: number + 1, text: String(line.prefix(200)))
            }
            entries.append(entry)
        }
        return entries
    }

    /// The newest `.dat` and its entries (the full backup increments are added to).
    func latestDat() throws(BackupError) -> (RepositoryFile, [DatEntry])? {
        guard let dat = try files().last(where: { $0.kind == .dat }) else { return nil }
        return (dat, try datEntries(of: RepositoryFile(stamp: dat.stamp, kind: .full)))
    }

    /// A small file, whole (`.dat` files are a line per backup).
    static func readAll(_ path: String) throws(BackupError) -> [UInt8] {
        let file = try openBackupFile(path, .readOnly)
        defer { try? file.close() }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n: Int
            do { n = try chunk.withUnsafeMutableBytes { try file.read(into: $0) } } catch {
                throw (error as? Errno ?? .ioError).backupError(path, "read")
            }
            if n == 0 { return bytes }
            bytes += chunk[0..<n]
        }
    }
}

/// What a long backup, restore or verify reports as it goes.
public struct BackupProgress: Sendable {
    public var phase: String
    public var done: UInt64
    public var total: UInt64
}

/// Streams the uncompressed bytes of one backup file, counting its size
/// and md5 as they pass.
struct BackupFileReader {
    let path: String
    private let file: FileDescriptor
    private let gzip: GzipReader?
    private var hash = Insecure.MD5()
    private(set) var size: UInt64 = 0

    init(path: String, gzip: Bool) throws(BackupError) {
        self.path = path
        file = try openBackupFile(path, .readOnly)
        self.gzip = gzip ? try GzipReader(input: file, path: path) : nil
    }

    /// Up to `count` bytes; empty at the end.
    mutating func read(upTo count: Int) throws(BackupError) -> [UInt8] {
        var bytes: [UInt8]
        if let gzip {
            bytes = try gzip.read(upTo: count)
        } else {
            bytes = [UInt8](repeating: 0, count: count)
            let n: Int
            do { n = try bytes.withUnsafeMutableBytes { try file.read(into: $0) } } catch {
                throw (error as? Errno ?? .ioError).backupError(path, "read")
            }
            bytes.removeLast(count - n)
        }
        hash.update(data: bytes)
        size += UInt64(bytes.count)
        return bytes
    }

    var md5: String { hash.finalize().map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

    func close() { try? file.close() }
}

/// `open(2)` for the backup code: a missing file is ``BackupError/missingFile(path:reason:)``.
func openBackupFile(_ path: String, _ mode: FileDescriptor.AccessMode, options: FileDescriptor.OpenOptions = [],
                    permissions: FilePermissions? = nil) throws(BackupError) -> FileDescriptor {
    do {
        return try FileDescriptor.open(FilePath(path), mode, options: options.union(.closeOnExec), permissions: permissions)
    } catch {
        let code = error as? Errno ?? .ioError
        if code == .noSuchFileOrDirectory && !options.contains(.create) {
            throw .missingFile(path: path, reason: "no such file")
        }
        throw code.backupError(path, "open")
    }
}
