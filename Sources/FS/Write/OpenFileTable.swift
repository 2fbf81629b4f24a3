import Storage

/// The files open for writing, by inode, and the names `create` made that
/// the store does not hold yet (by parent folder), so `lookup` and
/// `readdir` show a new file from its creation on, as POSIX wants, while the
/// store sees it only at its first commit.
///
/// Concurrency: one mutex, never held while an ``OpenFile``'s own lock is
/// taken; code holding a file's lock may take this one (file → table), never
/// the other way. That is why handle counts live here and not in the file.
final class OpenFileTable: Sendable {
    private struct Tables {
        var files: [InodeNumber: OpenFile] = [:]
        var handles: [InodeNumber: Int] = [:]
        var pending: [OID: [String: OpenFile]] = [:]
    }

    private let tables = Guarded(Tables())

    func file(_ inode: InodeNumber) -> OpenFile? {
        tables.withLock { $0.files[inode] }
    }

    /// The open file for `inode`, made by `make` if there is none, with one
    /// more handle on it.
    func attach(_ inode: InodeNumber, make: () throws(FSError) -> OpenFile) throws(FSError) -> OpenFile {
        if let file = attachExisting(inode) { return file }
        let made = try make()
        return tables.withLock { t in
            // Another handle may have made one meanwhile; theirs wins.
            let file = t.files[inode] ?? made
            t.files[inode] = file
            t.handles[inode, default: 0] += 1
            return file
        }
    }

    /// The open file for `inode` with one more handle on it, or nil when
    /// there is none (its last handle went away since it was looked up).
    func attachExisting(_ inode: InodeNumber) -> OpenFile? {
        tables.withLock { t -> OpenFile? in
            guard let file = t.files[inode] else { return nil }
            t.handles[inode, default: 0] += 1
            return file
        }
    }

    /// One handle fewer; returns the file when that was its last handle
    /// (it is then gone from the table, pending name included).
    func detach(_ inode: InodeNumber) -> OpenFile? {
        tables.withLock { t in
            let left = (t.handles[inode] ?? 1) - 1
            guard left <= 0 else {
                t.handles[inode] = left
                return nil
            }
            t.handles.removeValue(forKey: inode)
            guard let file = t.files.removeValue(forKey: inode) else { return nil }
            for (parent, names) in t.pending {
                for (name, f) in names where f === file { t.pending[parent]![name] = nil }
            }
            return file
        }
    }

    func pendingChild(parent: OID, name: String) -> OpenFile? {
        tables.withLock { $0.pending[parent]?[name] }
    }

    func pendingChildren(parent: OID) -> [(name: String, file: OpenFile)] {
        tables.withLock { t in (t.pending[parent] ?? [:]).map { ($0.key, $0.value) }.sorted { $0.name < $1.name } }
    }

    func hasPendingChildren(_ parent: OID) -> Bool {
        tables.withLock { !($0.pending[parent]?.isEmpty ?? true) }
    }

    func addPending(_ file: OpenFile, parent: OID, name: String) {
        tables.withLock { $0.pending[parent, default: [:]][name] = file }
    }

    func removePending(parent: OID, name: String) {
        tables.withLock { t in
            t.pending[parent]?[name] = nil
            if t.pending[parent]?.isEmpty == true { t.pending[parent] = nil }
        }
    }
}
