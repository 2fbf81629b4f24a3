extension FileStorage {
    /// Every committed transaction from the start of the file up to ``size``,
    /// oldest first (ZODB's `FileIterator`, for `info`, `verify` and tests).
    ///
    /// The scan applies the same checks as the open, so a storage opened from
    /// its `.index` file (whose earlier bytes were never scanned) can throw
    /// ``StorageError/corrupted(path:offset:reason:)`` here.
    public func transactions() throws(StorageError) -> [TransactionSummary] {
        var result: [TransactionSummary] = []
        try forEachTransaction { (summary: TransactionSummary) throws(StorageError) -> Bool in
            result.append(summary)
            return true
        }
        return result
    }

    /// Streams the committed transactions from the start of the file up to
    /// ``size`` to `body`, oldest first, reading through one large buffer.
    ///
    /// - Parameter body: called for each transaction; returns false to stop.
    public func forEachTransaction(_ body: (TransactionSummary) throws(StorageError) -> Bool) throws(StorageError) {
        let end = try currentEnd()
        var scanner = TransactionScanner(descriptor: file, path: path, fileSize: end, start: 4, lastTID: .zero, includeMetadata: true)
        while let transaction = try scanner.next() {
            guard try body(Self.summary(of: transaction, records: scanner.records)) else { return }
        }
    }

    static func summary(of transaction: TransactionScanner.Transaction, records: [TransactionScanner.Record]) -> TransactionSummary {
        TransactionSummary(
            tid: transaction.header.tid, position: transaction.position, status: transaction.header.status,
            user: transaction.user, description: transaction.description, extension: transaction.extension,
            oids: records.map(\.oid))
    }
}
