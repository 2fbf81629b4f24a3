import ArgumentParser
import FS
import Foundation

/// `zodbfs ls STORE [PATH]`: a folder's entries, read straight from Data.fs.
struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List a folder of a Data.fs without mounting it.")

    @Argument(help: "The Data.fs file.") var store: String
    @Argument(help: "A folder below the root (default: the root).") var path: String = "/"
    @Flag(name: .short, help: "Long listing: mode, size, mtime, name.") var long = false

    func run() throws {
        let fs = try StoreAccess.filesystem(store)
        let names: [(String, InodeNumber)]
        do {
            let inode = try fs.resolve(path: path)
            let attributes = try fs.getattr(inode)
            guard attributes.kind == .directory else {
                print(try line(fs, name: (path as NSString).lastPathComponent, inode: inode))
                return
            }
            let handle = try fs.opendir(inode)
            defer { fs.releasedir(inode, handle: handle) }
            var collector = EntryCollector()
            try fs.readdir(inode, handle: handle, offset: 0, plus: false, into: &collector)
            // The control folder only means something inside a mount.
            names = collector.entries.filter { ![".", "..", ".zodbfs"].contains($0.0) }
        } catch {
            throw CommandFailure("\(path): \(error)")
        }
        for (name, inode) in names {
            print(long ? try line(fs, name: name, inode: inode) : name)
        }
    }

    private func line(_ fs: ZODBFilesystem, name: String, inode: InodeNumber) throws -> String {
        guard long else { return name }
        let a = try fs.getattr(inode)
        let type = a.kind == .directory ? "d" : "-"
        let mode = String(a.permissions, radix: 8)
        let date = Date(timeIntervalSince1970: a.modificationTime.timeInterval)
        let stamp = date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false))
        let size = String(a.size)
        return "\(type)\(mode) \(String(repeating: " ", count: max(0, 12 - size.count)))\(size) \(stamp) \(name)"
    }
}

/// Collects a whole listing (the CLI has no reply buffer to fill).
struct EntryCollector: DirectoryReplier {
    var entries: [(String, InodeNumber)] = []
    mutating func add(name: String, inode: InodeNumber, kind: FileAttributes.Kind,
                      entry: EntryReply?, nextOffset: UInt64) -> Bool {
        entries.append((name, inode))
        return true
    }
}
