#if canImport(Glibc)
import Glibc
#endif
import CFuse3
import FS

extension LowLevelOperations {
    /// The operations that change the store. Each becomes one filesystem
    /// call; on a read-only mount the filesystem answers EROFS (and with
    /// `-o ro` the kernel refuses most of them before they get here).
    ///
    /// `write` is used rather than `write_buf`: libfuse then hands over the
    /// request's own buffer, which goes to the spool in one `pwrite`.
    /// `copy_file_range` is left to libfuse's ENOSYS, so the kernel falls
    /// back to reads and writes.
    static func installModifying(into operations: inout fuse_lowlevel_ops) {
        operations.create = { req, parent, name, mode, fileInfo in
            Request.handle(req) { request, filesystem throws(FSError) in
                guard let fileInfo else { throw .badHandle }
                let (entry, open) = try filesystem.create(parent: InodeNumber(parent), name: Request.name(name),
                                                          mode: UInt32(mode), flags: fileInfo.pointee.flags)
                fileInfo.pointee.fh = open.handle
                fileInfo.pointee.keep_cache = open.keepCache ? 1 : 0
                fileInfo.pointee.direct_io = open.directIO ? 1 : 0
                request.reply(create: entry, fileInfo: fileInfo)
            }
        }
        operations.write = { req, inode, buffer, size, offset, fileInfo in
            Request.handle(req) { request, filesystem throws(FSError) in
                guard offset >= 0 else { throw .invalidArgument("negative write offset") }
                let written = try filesystem.write(InodeNumber(inode), handle: fileInfo?.pointee.fh ?? 0,
                                                   offset: UInt64(offset),
                                                   bytes: UnsafeRawBufferPointer(start: buffer, count: buffer == nil ? 0 : size))
                fuse_reply_write(request.raw, written)
            }
        }
        operations.flush = { req, inode, fileInfo in
            Request.handle(req) { request, filesystem throws(FSError) in
                try filesystem.flush(InodeNumber(inode), handle: fileInfo?.pointee.fh ?? 0)
                request.replySuccess()
            }
        }
        operations.fsync = { req, inode, _, fileInfo in
            Request.handle(req) { request, filesystem throws(FSError) in
                try filesystem.fsync(InodeNumber(inode), handle: fileInfo?.pointee.fh ?? 0)
                request.replySuccess()
            }
        }
        operations.setattr = { req, inode, attributes, toSet, fileInfo in
            Request.handle(req) { request, filesystem throws(FSError) in
                guard let attributes else { throw .invalidArgument("setattr without attributes") }
                let changes = AttributeChanges(attributes.pointee, toSet: SetAttributeFlags(rawValue: toSet))
                let result = try filesystem.setattr(InodeNumber(inode), handle: fileInfo.map { $0.pointee.fh },
                                                    changes: changes)
                request.reply(attributes: result, timeout: request.context.attributeTimeout)
            }
        }
        operations.mknod = { req, parent, name, mode, _ in
            Request.handle(req) { request, filesystem throws(FSError) in
                // Only regular files exist in Zope: `mknod` of one is a
                // create that is closed at once; devices, fifos and sockets
                // have nowhere to live.
                guard mode & S_IFMT == S_IFREG else { throw filesystem.refuseModification() }
                let (entry, open) = try filesystem.create(parent: InodeNumber(parent), name: Request.name(name),
                                                          mode: UInt32(mode), flags: O_WRONLY)
                defer { filesystem.release(entry.attributes.inode, handle: open.handle) }
                try filesystem.flush(entry.attributes.inode, handle: open.handle)
                request.reply(entry: entry)
            }
        }
        operations.mkdir = { req, parent, name, mode in
            Request.handle(req) { request, filesystem throws(FSError) in
                request.reply(entry: try filesystem.mkdir(parent: InodeNumber(parent), name: Request.name(name),
                                                          mode: UInt32(mode)))
            }
        }
        operations.unlink = { req, parent, name in
            Request.handle(req) { request, filesystem throws(FSError) in
                try filesystem.unlink(parent: InodeNumber(parent), name: Request.name(name))
                request.replySuccess()
            }
        }
        operations.rmdir = { req, parent, name in
            Request.handle(req) { request, filesystem throws(FSError) in
                try filesystem.rmdir(parent: InodeNumber(parent), name: Request.name(name))
                request.replySuccess()
            }
        }
        operations.rename = { req, parent, name, newParent, newName, flags in
            Request.handle(req) { request, filesystem throws(FSError) in
                try filesystem.rename(parent: InodeNumber(parent), name: Request.name(name),
                                      newParent: InodeNumber(newParent), newName: Request.name(newName),
                                      flags: UInt32(flags))
                request.replySuccess()
            }
        }
        operations.symlink = { req, _, _, _ in
            Request.handle(req) { _, filesystem throws(FSError) in throw filesystem.refuseModification() }
        }
        operations.link = { req, _, _, _ in
            Request.handle(req) { _, filesystem throws(FSError) in throw filesystem.refuseModification() }
        }
        operations.setxattr = { req, inode, name, value, size, _ in
            Request.handle(req) { request, filesystem throws(FSError) in
                let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
                try filesystem.setxattr(InodeNumber(inode), name: Request.name(name), value: bytes)
                request.replySuccess()
            }
        }
        operations.removexattr = { req, inode, name in
            Request.handle(req) { request, filesystem throws(FSError) in
                try filesystem.removexattr(InodeNumber(inode), name: Request.name(name))
                request.replySuccess()
            }
        }
        operations.fallocate = { req, _, _, _, _, _ in
            Request.handle(req) { _, _ throws(FSError) in throw .unsupportedAttribute }
        }
    }
}

/// The `to_set` bits of a FUSE setattr (`FUSE_SET_ATTR_*` in fuse_lowlevel.h).
struct SetAttributeFlags: OptionSet {
    let rawValue: Int32
    static let mode = SetAttributeFlags(rawValue: 1 << 0)
    static let uid = SetAttributeFlags(rawValue: 1 << 1)
    static let gid = SetAttributeFlags(rawValue: 1 << 2)
    static let size = SetAttributeFlags(rawValue: 1 << 3)
    static let accessTime = SetAttributeFlags(rawValue: 1 << 4)
    static let modificationTime = SetAttributeFlags(rawValue: 1 << 5)
    static let accessTimeNow = SetAttributeFlags(rawValue: 1 << 7)
    static let modificationTimeNow = SetAttributeFlags(rawValue: 1 << 8)
}

extension AttributeChanges {
    init(_ status: stat, toSet: SetAttributeFlags) {
        self.init()
        if toSet.contains(.mode) { mode = UInt32(status.st_mode) & 0o7777 }
        if toSet.contains(.uid) { uid = status.st_uid }
        if toSet.contains(.gid) { gid = status.st_gid }
        if toSet.contains(.size) { size = UInt64(max(0, status.st_size)) }
        if toSet.contains(.modificationTimeNow) {
            modificationTime = .now
        } else if toSet.contains(.modificationTime) {
            modificationTime = .time(Timestamp(seconds: Int64(status.st_mtim.tv_sec), nanoseconds: Int32(status.st_mtim.tv_nsec)))
        }
        if toSet.contains(.accessTimeNow) {
            accessTime = .now
        } else if toSet.contains(.accessTime) {
            accessTime = .time(Timestamp(seconds: Int64(status.st_atim.tv_sec), nanoseconds: Int32(status.st_atim.tv_nsec)))
        }
    }
}
