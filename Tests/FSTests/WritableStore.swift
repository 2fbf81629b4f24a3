import FS
import Foundation
import Logging
import Storage
import TestSupport

/// A copy of the Zope fixture opened read-write through ``ZODBFilesystem``,
/// with the few calls a test needs to act like a program writing files.
final class WritableStore {
    let scratch: ScratchDirectory
    let path: String
    private(set) var filesystem: ZODBFilesystem

    init() throws {
        let fixture = try TestEnvironment.zopeFixture()
        scratch = try ScratchDirectory("zodbfs-write")
        path = scratch.path("Data.fs")
        try FileManager.default.copyItem(atPath: fixture.dataFS, toPath: path)
        try? FileManager.default.copyItem(atPath: fixture.dataFS + ".index", toPath: path + ".index")
        filesystem = try Self.open(path)
    }

    static func open(_ path: String) throws -> ZODBFilesystem {
        try open(try FileStorage(path: path, readOnly: false))
    }

    static func open(_ storage: any ObjectStorage, spool: String? = nil) throws -> ZODBFilesystem {
        var options = ZODBFilesystem.Options()
        options.spoolPath = spool
        options.follow = false
        options.readOnly = false
        // One line per commit is for operators; tests make thousands.
        options.logger.logLevel = .warning
        return try ZODBFilesystem(storage: storage, options: options)
    }

    /// Reopens the store through a storage that wraps its FileStorage.
    func reopen(through wrap: (FileStorage) -> any ObjectStorage) throws {
        filesystem.storage.close()
        filesystem = try Self.open(wrap(try FileStorage(path: path, readOnly: false)), spool: path + ".spool")
    }

    /// Closes the store (saving its index) and reopens it, as a remount does.
    func reopen() throws {
        filesystem.storage.close()
        filesystem = try Self.open(path)
    }

    /// Closes the store and asks the real ZODB/Zope what is in it.
    func verify() throws -> StoreVerification {
        filesystem.storage.close()
        return try StoreVerification(dataFS: path)
    }

    func inode(_ path: String) throws -> InodeNumber {
        try filesystem.resolve(path: path)
    }

    /// `open(O_CREAT|O_TRUNC)` (or create), write in 128 KiB requests, close.
    @discardableResult
    func write(_ path: String, _ bytes: [UInt8], chunk: Int = 128 << 10) throws -> InodeNumber {
        let (parent, name) = try split(path)
        let inode: InodeNumber
        let handle: UInt64
        if let existing = try? filesystem.resolve(path: path) {
            inode = existing
            handle = try filesystem.open(existing, flags: O_WRONLY | O_TRUNC).handle
        } else {
            let (entry, open) = try filesystem.create(parent: parent, name: name, mode: 0o644, flags: O_WRONLY | O_CREAT)
            inode = entry.attributes.inode
            handle = open.handle
        }
        defer { filesystem.release(inode, handle: handle) }
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + chunk)
            _ = try bytes[offset..<end].withUnsafeBytes {
                try filesystem.write(inode, handle: handle, offset: UInt64(offset), bytes: $0)
            }
            offset = end
        }
        try filesystem.flush(inode, handle: handle)
        return inode
    }

    /// Writes `bytes` at `offset` of an existing file through one handle, then closes it.
    func patch(_ path: String, at offset: UInt64, _ bytes: [UInt8]) throws {
        let inode = try filesystem.resolve(path: path)
        let handle = try filesystem.open(inode, flags: O_WRONLY).handle
        defer { filesystem.release(inode, handle: handle) }
        _ = try bytes.withUnsafeBytes { try filesystem.write(inode, handle: handle, offset: offset, bytes: $0) }
        try filesystem.flush(inode, handle: handle)
    }

    func read(_ path: String) throws -> [UInt8] {
        let inode = try filesystem.resolve(path: path)
        let handle = try filesystem.open(inode, flags: O_RDONLY).handle
        defer { filesystem.release(inode, handle: handle) }
        var result: [UInt8] = []
        while true {
            let chunk = try filesystem.read(inode, handle: handle, offset: UInt64(result.count), size: 1 << 20).assembled(path: path)
            if chunk.isEmpty { return result }
            result += chunk
        }
    }

    func split(_ path: String) throws -> (InodeNumber, String) {
        let parts = path.split(separator: "/").map(String.init)
        let parent = try filesystem.resolve(path: parts.dropLast().joined(separator: "/"))
        return (parent, parts.last!)
    }

    deinit {
        filesystem.storage.close()
        scratch.cleanUp()
    }
}


/// The errno a filesystem call failed with; nil when it succeeded.
func errnoOf(_ body: () throws -> Void) -> Int32? {
    do {
        try body()
        return nil
    } catch let error as FSError {
        return error.errno
    } catch {
        return -1
    }
}
