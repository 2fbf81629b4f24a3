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
/// A build that reads several objects of one structure reads them as of
/// one transaction (``ObjectLoader/load(_:asOf:)``; a folder's BTrees), as
/// a ZODB connection does: serial checks guard only what is written, and a
/// bucket read after another client's split of it would otherwise be
/// written back under a root that no longer routes to it. A build whose
/// snapshot lacks an object it reaches throws a conflict and is built
/// again like one the storage refused.
///
/// This keeps the filesystem free of a global write lock: commits to
/// different folders never wait for each other except in the storage's own
/// short commit lock, and concurrent commits share fsyncs there (group
/// commit).
///
/// A change that lost once is built and committed again under `retries`, a
/// lock that only such changes take: among this mount's own writers a
/// loser then cannot lose again, however many threads write to one folder
/// (over ZEO a commit takes round trips, and with eight writers in one
/// folder a change could otherwise lose dozens of times in a row). Only
/// another client's commits can still make it retry.
struct Committer: Sendable {
    let storage: any ObjectStorage
    var maxAttempts = 32
    private let retries = Guarded(())

    init(storage: any ObjectStorage) {
        self.storage = storage
    }

    /// Commits what `build` returns; returns the result and the oids written.
    func commit(_ description: String, user: String = "",
                build: () throws(FSError) -> [PendingRecord]) throws(FSError) -> CommitResult {
        let metadata = TransactionMetadata(user: user, description: description)
        var lastConflict = ""
        func attemptOnce() throws(FSError) -> CommitResult? {
            // A conflict from the build (its snapshot lacks an object) or
            // from the storage's serial checks: built again either way.
            do throws(FSError) {
                let records = try build()
                do throws(StorageError) { return try storage.commit(records, metadata: metadata) } catch { throw .storage(error) }
            } catch .storage(let error) {
                guard case .conflict = error else { throw .storage(error) }
                lastConflict = "\(error)"
                return nil
            }
        }
        for attempt in 0..<maxAttempts {
            let result = attempt == 0 ? try attemptOnce() : try retries.withLock { _ throws(FSError) in try attemptOnce() }
            if let result { return result }
        }
        throw .conflict("\(description): \(lastConflict)")
    }
}
