#if canImport(Glibc)
import Glibc
#endif
import CFuse3
import FS

extension LowLevelOperations {
    /// The operations that read: names, attributes, listings, file data and
    /// extended attributes, plus the bookkeeping ones (forget, release).
    static func installReading(into operations: inout fuse_lowlevel_ops) {
        operations.lookup = { req, parent, name in
            Request.handle(req) { request, filesystem throws(FSError) in
                request.reply(entry: try filesystem.lookup(parent: InodeNumber(parent), name: Request.name(name)))
            }
        }
        operations.forget = { req, inode, count in
            guard let request = Request(req) else { return }
            request.context.filesystem.forget(InodeNumber(inode), count: count)
            request.replyNone()
        }
        operations.forget_multi = { req, count, forgets in
            guard let request = Request(req) else { return }
            let filesystem = request.context.filesystem
            for forget in UnsafeBufferPointer(start: forgets, count: forgets == nil ? 0 : count) {
                filesystem.forget(InodeNumber(forget.ino), count: forget.nlookup)
            }
            request.replyNone()
        }
        operations.getattr = { req, inode, _ in
            Request.handle(req) { request, filesystem throws(FSError) in
                request.reply(attributes: try filesystem.getattr(InodeNumber(inode)),
                              timeout: request.context.attributeTimeout)
            }
        }
        operations.statfs = { req, _ in
            Request.handle(req) { request, filesystem throws(FSError) in
                request.reply(statistics: filesystem.statfs())
            }
        }

        // Directories
        operations.opendir = { req, inode, fileInfo in
            Request.handle(req) { request, filesystem throws(FSError) in
                guard let fileInfo else { throw .badHandle }
                fileInfo.pointee.fh = try filesystem.opendir(InodeNumber(inode))
                request.reply(open: fileInfo)
            }
        }
        operations.readdir = { req, inode, size, offset, fileInfo in
            Request.handle(req) { request, filesystem throws(FSError) in
                try request.replyListing(filesystem, InodeNumber(inode), size: size, offset: offset,
                                         handle: fileInfo?.pointee.fh ?? 0, plus: false)
            }
        }
        operations.readdirplus = { req, inode, size, offset, fileInfo in
            Request.handle(req) { request, filesystem throws(FSError) in
                try request.replyListing(filesystem, InodeNumber(inode), size: size, offset: offset,
                                         handle: fileInfo?.pointee.fh ?? 0, plus: true)
            }
        }
        operations.releasedir = { req, inode, fileInfo in
            Request.handle(req) { request, filesystem throws(FSError) in
                filesystem.releasedir(InodeNumber(inode), handle: fileInfo?.pointee.fh ?? 0)
                request.replySuccess()
            }
        }
        operations.fsyncdir = { req, _, _, _ in
            Request.handle(req) { request, _ throws(FSError) in request.replySuccess() }
        }

        // Files
        operations.open = { req, inode, fileInfo in
            Request.handle(req) { request, filesystem throws(FSError) in
                guard let fileInfo else { throw .badHandle }
                let flags = fileInfo.pointee.flags
                let reply = try filesystem.open(InodeNumber(inode), flags: flags)
                fileInfo.pointee.fh = reply.handle
                fileInfo.pointee.keep_cache = reply.keepCache ? 1 : 0
                fileInfo.pointee.direct_io = reply.directIO ? 1 : 0
                // A handle that cannot write has nothing to do at close(2):
                // spare the kernel a FLUSH round trip per close.
                fileInfo.pointee.noflush = flags & O_ACCMODE == O_RDONLY ? 1 : 0
                request.reply(open: fileInfo)
            }
        }
        operations.read = { req, inode, size, offset, fileInfo in
            Request.handle(req) { request, filesystem throws(FSError) in
                guard offset >= 0 else { throw .invalidArgument("negative read offset") }
                switch try filesystem.read(InodeNumber(inode), handle: fileInfo?.pointee.fh ?? 0,
                                           offset: UInt64(offset), size: size) {
                case .bytes(let bytes):
                    request.reply(bytes: bytes.count > size ? Array(bytes.prefix(size)) : bytes)
                case .fileRanges(let descriptor, let ranges):
                    request.reply(descriptor: descriptor, ranges: ranges, limit: size)
                case .pieces(let pieces):
                    request.reply(pieces: pieces, limit: size)
                }
            }
        }
        operations.release = { req, inode, fileInfo in
            Request.handle(req) { request, filesystem throws(FSError) in
                filesystem.release(InodeNumber(inode), handle: fileInfo?.pointee.fh ?? 0)
                request.replySuccess()
            }
        }
        // Extended attributes. A call with size 0 asks how big the value is;
        // a buffer too small for it gets ERANGE.
        operations.getxattr = { req, inode, name, size in
            Request.handle(req) { request, filesystem throws(FSError) in
                let value = try filesystem.getxattr(InodeNumber(inode), name: Request.name(name))
                request.reply(xattr: value, bufferSize: size)
            }
        }
        operations.listxattr = { req, inode, size in
            Request.handle(req) { request, filesystem throws(FSError) in
                let names = try filesystem.listxattr(InodeNumber(inode))
                request.reply(xattr: names.flatMap { Array($0.utf8) + [0] }, bufferSize: size)
            }
        }
    }
}

extension Request {
    /// Fills one listing buffer and sends it. If the filesystem fails after
    /// entries were added, those are sent anyway: readdirplus entries are
    /// lookups the filesystem has already counted, and an error reply would
    /// leave the kernel without the inodes it must later forget. The next
    /// call resumes after them and reports the error.
    fileprivate func replyListing(_ filesystem: ZODBFilesystem, _ inode: InodeNumber, size: Int, offset: off_t,
                                  handle: UInt64, plus: Bool) throws(FSError) {
        var buffer = DirectoryBuffer(request: raw, capacity: size, plus: plus)
        defer { buffer.deallocate() }
        do throws(FSError) {
            try filesystem.readdir(inode, handle: handle, offset: UInt64(bitPattern: Int64(offset)), plus: plus, into: &buffer)
        } catch {
            if buffer.count == 0 { throw error }
            context.logger.warning("listing of inode \(inode) cut short after \(buffer.count) entries: \(error)")
        }
        buffer.reply()
    }

    /// The xattr reply protocol shared by getxattr and listxattr.
    fileprivate func reply(xattr value: [UInt8], bufferSize: Int) {
        if bufferSize == 0 {
            reply(xattrSize: value.count)
        } else if value.count > bufferSize {
            fuse_reply_err(raw, ERANGE)
        } else {
            reply(bytes: value)
        }
    }
}
