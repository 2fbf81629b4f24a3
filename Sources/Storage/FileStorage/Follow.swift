import SystemPackage

extension FileStorage {
    /// Picks up the transactions another process appended since the last
    /// known end (or since the open), adds them to the index, and returns
    /// them oldest first ("follow mode", for a read-only storage beside a
    /// running Zope).
    ///
    /// A torn or incomplete tail — a commit being written, or one with the
    /// checkpoint status `'c'` that has voted but not finished — is left for a
    /// later poll, never an error. Readers see each new transaction whole or
    /// not at all.
    ///
    /// - Throws: ``StorageError/fileReplaced(path:reason:)`` when the path now
    ///   names another file (a pack or a restore renamed a new one over it),
    ///   the file shrank, or the last transaction known before this poll is no
    ///   longer where it was; reopen the storage then.
    ///   ``StorageError/corrupted(path:offset:reason:)`` for damage in what
    ///   was appended.
    ///
    /// A read-write storage is the only writer of its file (it holds the
    /// lock), and the bytes past its end are its own commits waiting for their
    /// fsync, which ``commit(_:metadata:)`` publishes itself: there is nothing
    /// to follow, so this returns an empty list.
    public func poll() throws(StorageError) -> [TransactionSummary] {
        if !isReadOnly {
            _ = try currentEnd()  // fails when closed
            return []
        }
        return try pollGate.withLock { _ throws(StorageError) -> [TransactionSummary] in
            let known = try state.withLock { state throws(StorageError) in
                guard !state.isClosed else { throw .closed(path: path) }
                return (end: state.end, lastTID: state.lastTID, lastPosition: state.lastTransactionPosition)
            }
            try checkStillSameFile()
            let size = try Self.fileSize(file, path)
            guard size >= known.end else {
                throw .fileReplaced(path: path, reason: "the file shrank from \(known.end) to \(size) bytes")
            }
            if let last = known.lastPosition { try checkLastTransaction(at: last, tid: known.lastTID, end: known.end) }
            guard size > known.end else { return [] }

            var scanner = TransactionScanner(
                descriptor: file, path: path, fileSize: size, start: known.end, lastTID: known.lastTID, includeMetadata: true)
            var summaries: [TransactionSummary] = []
            var records: [TransactionScanner.Record] = []
            while let transaction = try scanner.next() {
                summaries.append(Self.summary(of: transaction, records: scanner.records))
                records += scanner.records
            }
            guard let last = summaries.last else { return [] }

            state.withLock { state in
                var warnings = scanner
                Self.apply(records, to: &state.index, warnings: &warnings)
                state.end = scanner.position
                state.lastTID = last.tid
                state.lastTransactionPosition = last.position
                let room = TransactionScanner.warningLimit - state.warnings.count
                if room > 0 { state.warnings += warnings.warnings.filter { !$0.message.hasPrefix("torn tail") }.prefix(room) }
            }
            return summaries
        }
    }

    /// Throws unless `path` still names the file this storage has open.
    private func checkStillSameFile() throws(StorageError) {
        let status: Stat
        do {
            status = try FilePath(path).stat()
        } catch .noSuchFileOrDirectory {
            throw .fileReplaced(path: path, reason: "the path no longer exists")
        } catch {
            throw error.storageError(path: path, operation: "stat")
        }
        guard UInt64(status.deviceID.rawValue) == identity.device, UInt64(status.inode.rawValue) == identity.inode else {
            throw .fileReplaced(path: path, reason: "the path names another file now (packed or restored?)")
        }
    }

    /// Throws unless the last known transaction still has its tid, its length
    /// and its trailer: a cheap check that the bytes before the end are still
    /// the ones indexed.
    private func checkLastTransaction(at position: UInt64, tid: TID, end: UInt64) throws(StorageError) {
        var header = [UInt8](repeating: 0, count: TransactionHeader.size)
        var trailer = [UInt8](repeating: 0, count: 8)
        do {
            guard try file.readFully(fromAbsoluteOffset: position, count: header.count, into: &header, at: 0) == header.count,
                try file.readFully(fromAbsoluteOffset: end - 8, count: 8, into: &trailer, at: 0) == 8
            else {
                throw StorageError.fileReplaced(path: path, reason: "the file ends before the last known transaction")
            }
        } catch let error as StorageError {
            throw error
        } catch {
            throw (error as? Errno ?? .ioError).storageError(path: path, operation: "pread")
        }
        let found = TransactionHeader(header, at: 0)
        let length = end - 8 - position
        guard found.tid == tid, found.length == length, trailer.uint64BE(at: 0) == length else {
            throw .fileReplaced(path: path, reason: "the last known transaction at \(position) changed")
        }
    }
}
