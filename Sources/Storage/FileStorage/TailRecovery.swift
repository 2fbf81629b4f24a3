import SystemPackage

/// What a read-write open does with a torn tail, as ZODB's `read_index`
/// (with `_truncate`) does: the bytes after the last complete transaction —
/// a commit a crash cut short, one left with the checkpoint status `'c'`, or
/// fewer than 23 bytes — are copied to `Data.fs.tr0` (`.tr1`, … when that
/// name is taken) and the file is truncated there, so the next commit
/// appends after the last committed transaction.
///
/// Never a committed transaction: the scanner stops at the first incomplete
/// one and throws instead when a complete transaction follows it (damage in
/// the middle), so only what no commit returned for is ever cut.
///
/// One deliberate difference: ZODB truncates a tail of fewer than 23 bytes
/// without saving it; it is saved here too, since keeping the bytes costs
/// nothing and losing them cannot be undone.
enum TailRecovery {
    /// Saves `file[offset ..< fileSize]` to the first free `path.trN`
    /// (fsynced), then truncates `file` at `offset` and fsyncs it.
    ///
    /// - Returns: the path of the saved copy.
    /// - Throws: ``StorageError/io(path:operation:errno:)`` when the copy
    ///   cannot be written (ZODB raises "Couldn't save truncated data" and
    ///   the open fails) or the truncation fails.
    static func cut(_ file: FileDescriptor, path: String, at offset: UInt64, fileSize: UInt64) throws(StorageError) -> String {
        precondition(offset < fileSize)
        let (copy, copyPath) = try createCopy(of: path)
        do throws(StorageError) {
            var scratch = [UInt8](repeating: 0, count: TransactionWriter.bufferCapacity)
            let length = Int(fileSize - offset)
            let copied: Int
            do {
                copied = try copy.copyRange(from: file, sourceOffset: offset, toAbsoluteOffset: 0, length: length, scratch: &scratch)
                try copy.synchronize()
            } catch {
                throw error.storageError(path: copyPath, operation: "write")
            }
            guard copied == length else {
                throw .io(path: path, operation: "read the torn tail (the file shrank)", errno: Errno.ioError.rawValue)
            }
            try? copy.close()
        } catch {
            try? copy.close()
            try? systemUnlink(copyPath)
            throw error
        }
        do {
            try file.truncate(to: offset)
            try file.synchronize()
        } catch {
            throw error.storageError(path: path, operation: "ftruncate")
        }
        return copyPath
    }

    /// Creates `path.tr0`, or the first of `.tr1`, `.tr2`, … that does not exist.
    private static func createCopy(of path: String) throws(StorageError) -> (FileDescriptor, String) {
        var i = 0
        while true {
            let name = "\(path).tr\(i)"
            do {
                let descriptor = try FileDescriptor.open(
                    FilePath(name), .writeOnly, options: [.create, .exclusiveCreate, .closeOnExec],
                    permissions: [.ownerReadWrite, .groupRead, .otherRead])
                return (descriptor, name)
            } catch Errno.fileExists {
                i += 1
            } catch {
                throw (error as? Errno ?? .ioError).storageError(path: name, operation: "create")
            }
        }
    }
}
