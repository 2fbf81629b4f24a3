#if canImport(Glibc)
import Glibc
#endif
import CFuse3
import FS

/// The reply to one `readdir` or `readdirplus`: a buffer of the size the
/// kernel asked for, filled with `fuse_add_direntry(_plus)` until an entry
/// no longer fits. Each entry carries the cookie the kernel sends back as the
/// offset of its next call, so a listing continues where the last buffer
/// ended.
struct DirectoryBuffer: DirectoryReplier {
    private let request: fuse_req_t
    private let storage: UnsafeMutablePointer<CChar>
    private let capacity: Int
    private let plus: Bool
    private(set) var used = 0
    private(set) var count = 0

    /// - Parameters:
    ///   - capacity: the `size` of the request; replies must not exceed it.
    ///   - plus: whether entries carry lookup replies (`readdirplus`).
    init(request: fuse_req_t, capacity: Int, plus: Bool) {
        self.request = request
        self.capacity = capacity
        self.plus = plus
        storage = .allocate(capacity: max(capacity, 1))
    }

    /// Frees the buffer; call after `reply()`.
    func deallocate() {
        storage.deallocate()
    }

    mutating func add(name: String, inode: InodeNumber, kind: FileAttributes.Kind,
                      entry: EntryReply?, nextOffset: UInt64) -> Bool {
        let remaining = capacity - used
        let cookie = off_t(Int64(bitPattern: nextOffset))
        // libfuse returns the size the entry needs and writes it only if it fits.
        let needed = name.withCString { name in
            if plus {
                var parameter = entry.map(fuse_entry_param.init) ?? fuse_entry_param(unlookedUp: inode, kind: kind)
                return fuse_add_direntry_plus(request, storage + used, remaining, name, &parameter, cookie)
            } else {
                var status = stat(inode: inode, kind: kind)
                return fuse_add_direntry(request, storage + used, remaining, name, &status, cookie)
            }
        }
        guard needed <= remaining else { return false }
        used += needed
        count += 1
        return true
    }

    /// Sends the entries added so far (none means the end of the directory).
    func reply() {
        fuse_reply_buf(request, storage, used)
    }
}
