import FS
import Foundation
import Storage
import TestSupport
import Testing

/// The filesystem, without a mount, over the Python-built Zope database:
/// every file's bytes, size and mtime as the manifest records them.
@Suite struct ReadPathTests {
    @Test func everyFileMatchesTheManifest() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let fs = try ZODBFilesystem.opening(fixture.dataFS)
        #expect(fixture.files.count > 5000)
        for entry in fixture.files {
            let inode = try fs.resolve(path: entry.path)
            let attributes = try fs.getattr(inode)
            #expect(attributes.kind == .regular)
            #expect(attributes.size == UInt64(entry.size!), "\(entry.path)")
            #expect(abs(attributes.modificationTime.timeInterval - entry.mtime) < 1e-5, "\(entry.path)")
            #expect(attributes.inode == InodeNumber(entry.oidValue + 2), "\(entry.path)")
            let body = try fs.readWhole(inode)
            #expect(body.count == entry.size!, "\(entry.path)")
            #expect(body.digest == entry.sha256, "\(entry.path)")
        }
    }

    @Test func foldersListTheirChildren() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let fs = try ZODBFilesystem.opening(fixture.dataFS)
        var folders = fixture.folders.map(\.path)
        folders.append("")
        for path in folders {
            let inode = try fs.resolve(path: path)
            #expect(try fs.getattr(inode).kind == .directory)
            var names = Set(try fs.list(inode))
            #expect(names.remove(".") != nil && names.remove("..") != nil)
            if path.isEmpty { #expect(names.remove(".zodbfs") != nil) }
            #expect(names == childNames(of: path, in: fixture), "\(path)")
            #expect(Set(try fs.list(inode, plus: true)) == Set(try fs.list(inode)))
        }
    }

    @Test func listingContinuesAcrossReplyBuffers() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let fs = try ZODBFilesystem.opening(fixture.dataFS)
        let biggest = fixture.folders.max { childNames(of: $0.path, in: fixture).count < childNames(of: $1.path, in: fixture).count }!
        let inode = try fs.resolve(path: biggest.path)
        let handle = try fs.opendir(inode)
        defer { fs.releasedir(inode, handle: handle) }
        var all: [String] = []
        var offset: UInt64 = 0
        while true {
            var replier = CollectingReplier(capacity: 97)
            try fs.readdir(inode, handle: handle, offset: offset, plus: true, into: &replier)
            if replier.names.isEmpty { break }
            all += replier.names
            offset = replier.lastOffset
        }
        #expect(all.count >= 5002)
        #expect(Set(all.dropFirst(2)) == childNames(of: biggest.path, in: fixture))
    }

    @Test func rangesFromTheMiddleOfAChain() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let fs = try ZODBFilesystem.opening(fixture.dataFS)
        let largest = fixture.files.max { $0.size! < $1.size! }!
        let inode = try fs.resolve(path: largest.path)
        let reply = try fs.open(inode, flags: O_RDONLY)
        defer { fs.release(inode, handle: reply.handle) }
        func bytes(_ offset: UInt64, _ size: Int) throws -> [UInt8] {
            switch try fs.read(inode, handle: reply.handle, offset: offset, size: size) {
            case .bytes(let b): return b
            case .fileRanges(let fd, let ranges):
                #expect(fd == fs.fileStorage.descriptor)
                return try ranges.flatMap { try fs.fileStorage.read(at: $0.offset, count: $0.length) }
            case .pieces(let pieces): return Array(pieces.joined())
            }
        }
        // Reading backwards in odd sizes across 64 KiB links gives the same bytes as forwards.
        let size = largest.size!
        var forwards: [UInt8] = []
        var offset: UInt64 = 0
        while offset < UInt64(size) {
            forwards += try bytes(offset, 100_003)
            offset += 100_003
        }
        var backwards = [UInt8](repeating: 0, count: size)
        var end = size
        while end > 0 {
            let start = max(0, end - 77_777)
            let piece = try bytes(UInt64(start), end - start)
            backwards.replaceSubrange(start..<end, with: piece)
            end = start
        }
        #expect(forwards.count == size)
        #expect(forwards == backwards)
        #expect(sha256Hex(forwards) == largest.sha256)
        #expect(try bytes(UInt64(size), 10).isEmpty)
        #expect(try bytes(UInt64(size - 5), 10).count == 5)
    }

    @Test func extendedAttributes() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let fs = try ZODBFilesystem.opening(fixture.dataFS)
        for entry in fixture.manifest.entries.prefix(200) {
            let inode = try fs.resolve(path: entry.path)
            let names = try fs.listxattr(inode)
            #expect(names.contains("user.zodb.oid"))
            #expect(String(decoding: try fs.getxattr(inode, name: "user.zodb.oid"), as: UTF8.self) == "0x\(entry.oid)")
            #expect(String(decoding: try fs.getxattr(inode, name: "user.zodb.tid"), as: UTF8.self) == "0x\(entry.tid)")
            if let type = entry.content_type, entry.isFile {
                #expect(String(decoding: try fs.getxattr(inode, name: "user.zope.content_type"), as: UTF8.self) == type)
            }
            if let metaType = entry.meta_type {
                #expect(String(decoding: try fs.getxattr(inode, name: "user.zope.meta_type"), as: UTF8.self) == metaType,
                        "\(entry.path)")
            }
            #expect(throws: FSError.self) { try fs.getxattr(inode, name: "user.nothing") }
        }
    }

    @Test func everyModificationIsRefusedOnAReadOnlyMount() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let fs = try ZODBFilesystem.opening(fixture.dataFS)
        let file = try fs.resolve(path: fixture.files[0].path)
        for flags in [O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC] {
            #expect { try fs.open(file, flags: flags) } throws: { ($0 as? FSError)?.errno == EROFS }
        }
        #expect(fs.refuseModification().errno == EROFS)
    }

    @Test func missingNamesAndBadInodes() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let fs = try ZODBFilesystem.opening(fixture.dataFS)
        #expect { try fs.lookup(parent: .root, name: "no such thing") } throws: { ($0 as? FSError)?.errno == ENOENT }
        let file = try fs.resolve(path: fixture.files[0].path)
        #expect { try fs.lookup(parent: file, name: "x") } throws: { ($0 as? FSError)?.errno == ENOTDIR }
        #expect { try fs.opendir(file) } throws: { ($0 as? FSError)?.errno == ENOTDIR }
        #expect { try fs.getattr(InodeNumber(0xFFFF_FFFF_0000)) } throws: { ($0 as? FSError)?.errno == ENOENT }
    }

    @Test func controlFiles() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let fs = try ZODBFilesystem.opening(fixture.dataFS)
        let folder = try fs.lookup(parent: .root, name: ".zodbfs").attributes.inode
        #expect(Set(try fs.list(folder)) == [".", "..", "info", "stats", "pack", "backup"])
        let info = try fs.resolve(path: ".zodbfs/info")
        let reply = try fs.open(info, flags: O_RDONLY)
        #expect(reply.directIO)
        guard case .bytes(let text) = try fs.read(info, handle: reply.handle, offset: 0, size: 65536) else {
            Issue.record("info is served from memory")
            return
        }
        let body = String(decoding: text, as: UTF8.self)
        #expect(body.contains("storage: \(fixture.dataFS)"))
        #expect(body.contains("format: FS30"))
        #expect(body.contains("last_transaction: 0x\(fixture.manifest.last_tid ?? "")"))
        let stats = try fs.resolve(path: ".zodbfs/stats")
        let statsReply = try fs.open(stats, flags: O_RDONLY)
        guard case .bytes(let metrics) = try fs.read(stats, handle: statsReply.handle, offset: 0, size: 65536) else { return }
        #expect(String(decoding: metrics, as: UTF8.self).contains("zodbfs_read_total "))
        // Reports only: no writing, whatever the mount.
        #expect { try fs.open(info, flags: O_WRONLY) } throws: { ($0 as? FSError)?.errno == EACCES }
    }

    @Test func mountingASubfolder() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let folder = fixture.folders.first { $0.path.contains("/") }!
        var options = ZODBFilesystem.Options()
        options.follow = false
        options.rootPath = "/" + folder.path
        let fs = try ZODBFilesystem(storage: try FileStorage(path: fixture.dataFS), options: options)
        var names = Set(try fs.list(.root))
        names.subtract([".", "..", ".zodbfs"])
        #expect(names == childNames(of: folder.path, in: fixture))
        options.rootPath = "/no/such/folder"
        #expect(throws: FSError.self) { try ZODBFilesystem(storage: try FileStorage(path: fixture.dataFS), options: options) }
    }
}
