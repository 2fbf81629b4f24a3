import SystemPackage

/// Writes one new file of the repository or a restore — repozo's
/// `copyfile`: the bytes go to a temporary name (`tmp.tmp` in the
/// repository, `FILE.part` for a restore), through ``GzipWriter`` when
/// asked; ``commit(to:)`` fsyncs, closes and renames it, so the final name
/// holds either nothing or the whole file. Until then ``abandon()`` (or a
/// failure) removes the temporary file.
///
/// Pages are pushed to the disk every ``window`` bytes as the copy goes, so
/// a multi-gigabyte copy never piles up dirty pages for one long final
/// fsync; with `dropCache`, written windows also leave the page cache
/// (backup files are not read again soon — the store the mount serves is).
final class BackupFileWriter {
    static let window: UInt64 = 8 << 20
    let temporary: String
    private let file: FileDescriptor
    private var gzip: GzipWriter?
    private let dropCache: Bool
    private var open = true
    /// Bytes written to the file (compressed, for gzip).
    private(set) var written: UInt64 = 0
    private var flushedTo: UInt64 = 0

    init(temporary: String, gzip: Bool, dropCache: Bool) throws(BackupError) {
        self.temporary = temporary
        self.dropCache = dropCache
        file = try openBackupFile(temporary, .writeOnly, options: [.create, .truncate], permissions: backupFilePermissions)
        if gzip {
            do {
                self.gzip = try GzipWriter(path: temporary) { [unowned self] (bytes: UnsafeRawBufferPointer) throws(BackupError) in
                    try self.writeRaw(bytes)
                }
            } catch {
                abandon()
                throw error
            }
        }
    }

    deinit { abandon() }

    /// Writes (or compresses) the next uncompressed bytes.
    func write(_ bytes: [UInt8]) throws(BackupError) {
        if let gzip {
            try gzip.write(bytes)
        } else {
            var failure: BackupError?
            bytes.withUnsafeBytes { raw in
                do throws(BackupError) { try writeRaw(raw) } catch { failure = error }
            }
            if let failure { throw failure }
        }
    }

    private func writeRaw(_ bytes: UnsafeRawBufferPointer) throws(BackupError) {
        do {
            _ = try file.writeAll(bytes)
        } catch {
            throw backupError(error, temporary, "write")
        }
        written += UInt64(bytes.count)
        if written - flushedTo >= Self.window {
            let window = flushedTo..<written
            file.startWriteback(window)
            // The window before this one has been written out meanwhile.
            if dropCache && window.lowerBound >= Self.window {
                file.dropWrittenPages((window.lowerBound - Self.window)..<window.lowerBound)
            }
            flushedTo = written
        }
    }

    /// Ends the file (the gzip trailer), fsyncs it and renames it to
    /// `destination`, then fsyncs the folder so the name survives a crash.
    func commit(to destination: String, folder: String) throws(BackupError) {
        try gzip?.finish()
        gzip = nil
        do {
            try file.synchronize()
        } catch {
            abandon()
            throw backupError(error, temporary, "fsync")
        }
        if dropCache { file.dropWrittenPages(0..<written) }
        open = false
        try? file.close()
        do {
            try renameFile(temporary, destination)
        } catch {
            unlinkQuietly(temporary)
            throw error
        }
        synchronizeFolder(folder)
    }

    /// Closes and removes the temporary file (nothing when committed).
    func abandon() {
        guard open else { return }
        open = false
        gzip = nil
        try? file.close()
        unlinkQuietly(temporary)
    }
}
