import FS
import Foundation
import Storage
import TestSupport

/// A `DirectoryReplier` with a capacity, like the kernel's reply buffer.
struct CollectingReplier: DirectoryReplier {
    var capacity = Int.max
    var names: [String] = []
    var lastOffset: UInt64 = 0
    var entries: [EntryReply?] = []

    mutating func add(name: String, inode: InodeNumber, kind: FileAttributes.Kind,
                      entry: EntryReply?, nextOffset: UInt64) -> Bool {
        guard names.count < capacity else { return false }
        names.append(name)
        entries.append(entry)
        lastOffset = nextOffset
        return true
    }
}

/// Records what the filesystem asks the kernel to forget.
final class RecordingInvalidator: KernelInvalidator {
    let inodes = Guarded<[InodeNumber]>([])
    let names = Guarded<[(InodeNumber, String)]>([])
    func invalidateInode(_ inode: InodeNumber) { inodes.withLock { $0.append(inode) } }
    func invalidateEntry(parent: InodeNumber, name: String) { names.withLock { $0.append((parent, name)) } }
}

extension ZODBFilesystem {
    static func opening(_ path: String, readOnly: Bool = true) throws -> ZODBFilesystem {
        var options = Options()
        options.follow = false
        return try ZODBFilesystem(storage: try FileStorage(path: path, readOnly: readOnly), options: options)
    }

    /// A whole file through `open`/`read`, 1 MiB requests as the kernel sends them.
    func readWhole(_ inode: InodeNumber) throws -> (digest: String, count: Int) {
        let reply = try open(inode, flags: O_RDONLY)
        defer { release(inode, handle: reply.handle) }
        var digest = StreamingSHA256()
        var offset: UInt64 = 0
        while true {
            var chunk: [UInt8] = []
            switch try read(inode, handle: reply.handle, offset: offset, size: 1 << 20) {
            case .bytes(let b): chunk = b
            case .fileRanges(_, let ranges):
                for r in ranges { chunk += try fileStorage.read(at: r.offset, count: r.length) }
            case .pieces(let pieces): chunk = Array(pieces.joined())
            }
            if chunk.isEmpty { break }
            digest.update(chunk)
            offset += UInt64(chunk.count)
        }
        return (digest.hex(), Int(offset))
    }

    func list(_ inode: InodeNumber, plus: Bool = false) throws -> [String] {
        let handle = try opendir(inode)
        defer { releasedir(inode, handle: handle) }
        var replier = CollectingReplier()
        try readdir(inode, handle: handle, offset: 0, plus: plus, into: &replier)
        return replier.names
    }
}

/// Paths of the manifest's direct children of `folder` ("" is the root).
func childNames(of folder: String, in fixture: ZopeFixture) -> Set<String> {
    Set(fixture.manifest.entries.compactMap { entry in
        let parent = (entry.path as NSString).deletingLastPathComponent
        return parent == folder ? (entry.path as NSString).lastPathComponent : nil
    })
}

extension ZODBFilesystem {
    /// The mounted FileStorage: every filesystem these tests build has one.
    var fileStorage: FileStorage { storage as! FileStorage }
}
