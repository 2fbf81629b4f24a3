import ArgumentParser
import FS
import Foundation

/// `zodbfs cat STORE PATH`: a file's bytes to stdout, streamed one
/// megabyte at a time straight from the chunk records.
struct Cat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a file of a Data.fs to standard output without mounting it.")

    @Argument(help: "The Data.fs file.") var store: String
    @Argument(help: "The file's path below the root.") var path: String

    func run() throws {
        let fs = try StoreAccess.filesystem(store)
        let out = FileHandle.standardOutput
        do {
            let inode = try fs.resolve(path: path)
            let reply = try fs.open(inode, flags: O_RDONLY)
            defer { fs.release(inode, handle: reply.handle) }
            var offset: UInt64 = 0
            let step = 1 << 20
            while true {
                let chunk = try fs.read(inode, handle: reply.handle, offset: offset, size: step).assembled(path: store)
                if chunk.isEmpty { break }
                out.write(Data(chunk))
                offset += UInt64(chunk.count)
            }
        } catch {
            throw CommandFailure("\(path): \(error)")
        }
    }
}
