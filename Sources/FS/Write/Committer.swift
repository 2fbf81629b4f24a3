import Storage

/// Turns one filesystem change into one ZODB transaction.
///
/// Changes are built optimistically, the way ZODB connections work: `build`
/// reads the current records it changes and returns new ones, each naming
/// the serial it was built from; the storage checks those serials under its
/// commit lock and refuses the whole transaction if any object moved on
/// (another change to the same folder committed in between). The change is
/// then simply built again from the new state — nothing was written. After
/// `maxAttempts` conflicts the change fails with EIO and the store is as it
/// was.
///
/// This keeps the filesystem free of a global write lock: commits to
/// different folders never wait for each other except in the storage's own
/// short commit lock, and concurrent commits share fsyncs there (group
/// commit).
struct Committer: Sendable {
    let storage: any ObjectStorage
    var maxAttempts = 32

    /// Commits what `build` returns; returns the result and the oids written.
    func commit(_ description: String, user: String = "",
                build: () throws(FSError) -> [PendingRecord]) throws(FSError) -> CommitResult {
        var lastConflict = ""
        for _ in 0..<maxAttempts {
            let records = try build()
            do {
                return try storage.commit(records, metadata: TransactionMetadata(user: user, description: description))
            } catch {
                if case .conflict = error {
                    lastConflict = "\(error)"
                    continue
                }
                throw .storage(error)
            }
        }
        throw .conflict("\(description): \(lastConflict)")
    }
}
