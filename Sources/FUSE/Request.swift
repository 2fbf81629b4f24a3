#if canImport(Glibc)
import Glibc
#endif
import CFuse3
import FS

/// One FUSE request: the handle libfuse passed to a callback, and the one
/// way back. Every request gets exactly one reply (`fuse_reply_*`, or
/// `fuse_reply_none` for forgets); after it, `raw` is freed by libfuse and
/// must not be touched.
struct Request {
    let raw: fuse_req_t

    init?(_ raw: fuse_req_t?) {
        guard let raw else { return nil }
        self.raw = raw
    }

    var context: SessionContext {
        Unmanaged<SessionContext>.fromOpaque(fuse_req_userdata(raw)).takeUnretainedValue()
    }

    /// Runs `body` for the request behind a C callback. `body` calls the
    /// filesystem, then replies; if it throws instead, the error is the reply.
    /// So each path replies once, and nothing thrown leaves the callback.
    static func handle(_ raw: fuse_req_t?, _ body: (Request, ZODBFilesystem) throws(FSError) -> Void) {
        guard let request = Request(raw) else { return }
        do {
            try body(request, request.context.filesystem)
        } catch {
            request.reply(error)
        }
    }

    /// A name from the kernel. Zope ids are text, so a name that is not
    /// UTF-8 cannot exist here.
    static func name(_ pointer: UnsafePointer<CChar>?) throws(FSError) -> String {
        guard let pointer, let name = String(validatingCString: pointer) else { throw .notFound }
        return name
    }

    // MARK: Replies

    func reply(_ error: FSError) {
        fuse_reply_err(raw, error.errno)
    }

    /// Success without data (release, flush, fsync, ...).
    func replySuccess() {
        fuse_reply_err(raw, 0)
    }

    /// For forget and forget_multi, which the kernel expects no answer to.
    func replyNone() {
        fuse_reply_none(raw)
    }

    func reply(entry: EntryReply) {
        var parameter = fuse_entry_param(entry)
        fuse_reply_entry(raw, &parameter)
    }

    func reply(attributes: FileAttributes, timeout: Double) {
        var status = stat(attributes)
        fuse_reply_attr(raw, &status, timeout)
    }

    func reply(open fileInfo: UnsafeMutablePointer<fuse_file_info>) {
        fuse_reply_open(raw, fileInfo)
    }

    func reply(bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { _ = fuse_reply_buf(raw, $0.baseAddress, $0.count) }
        }
    }

    func reply(statistics: FilesystemStatistics) {
        var status = statvfs(statistics)
        fuse_reply_statfs(raw, &status)
    }

    /// The answer to a size-0 xattr probe: how big a buffer the value needs.
    func reply(xattrSize: Int) {
        fuse_reply_xattr(raw, xattrSize)
    }
}

extension Request {
    /// The answer to `create`: the new entry and its open handle.
    func reply(create entry: EntryReply, fileInfo: UnsafeMutablePointer<fuse_file_info>) {
        var parameter = fuse_entry_param(entry)
        fuse_reply_create(raw, &parameter, fileInfo)
    }
}
