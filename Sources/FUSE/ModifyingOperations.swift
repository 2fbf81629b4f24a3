import CFuse3
import FS

extension LowLevelOperations {
    /// The operations that would change the store. The filesystem refuses
    /// them for now (`refuseModification()`, EROFS on a read-only store);
    /// each is one `Request.handle` call whose body becomes the filesystem
    /// call and its reply once the write path exists, e.g. for mkdir:
    /// `request.reply(entry: try filesystem.mkdir(parent: InodeNumber(parent), name: Request.name(name), mode: mode))`.
    ///
    /// With `-o ro` the kernel refuses most of these before they get here.
    static func installModifying(into operations: inout fuse_lowlevel_ops) {
        operations.setattr = { req, _, _, _, _ in
            Request.handle(req) { _, filesystem throws(FSError) in throw filesystem.refuseModification() }
        }
        operations.mknod = { req, _, _, _, _ in
            Request.handle(req) { _, filesystem throws(FSError) in throw filesystem.refuseModification() }
        }
        operations.mkdir = { req, _, _, _ in
            Request.handle(req) { _, filesystem throws(FSError) in throw filesystem.refuseModification() }
        }
        operations.unlink = { req, _, _ in
            Request.handle(req) { _, filesystem throws(FSError) in throw filesystem.refuseModification() }
        }
        operations.rmdir = { req, _, _ in
            Request.handle(req) { _, filesystem throws(FSError) in throw filesystem.refuseModification() }
        }
        operations.symlink = { req, _, _, _ in
            Request.handle(req) { _, filesystem throws(FSError) in throw filesystem.refuseModification() }
        }
        operations.rename = { req, _, _, _, _, _ in
            Request.handle(req) { _, filesystem throws(FSError) in throw filesystem.refuseModification() }
        }
        operations.link = { req, _, _, _ in
            Request.handle(req) { _, filesystem throws(FSError) in throw filesystem.refuseModification() }
        }
        operations.create = { req, _, _, _, _ in
            Request.handle(req) { _, filesystem throws(FSError) in throw filesystem.refuseModification() }
        }
        operations.write = { req, _, _, _, _, _ in
            Request.handle(req) { _, filesystem throws(FSError) in throw filesystem.refuseModification() }
        }
        operations.write_buf = { req, _, _, _, _ in
            Request.handle(req) { _, filesystem throws(FSError) in throw filesystem.refuseModification() }
        }
        operations.setxattr = { req, _, _, _, _, _ in
            Request.handle(req) { _, filesystem throws(FSError) in throw filesystem.refuseModification() }
        }
        operations.removexattr = { req, _, _ in
            Request.handle(req) { _, filesystem throws(FSError) in throw filesystem.refuseModification() }
        }
        operations.fallocate = { req, _, _, _, _, _ in
            Request.handle(req) { _, filesystem throws(FSError) in throw filesystem.refuseModification() }
        }
        operations.copy_file_range = { req, _, _, _, _, _, _, _, _ in
            Request.handle(req) { _, filesystem throws(FSError) in throw filesystem.refuseModification() }
        }
    }
}
