import FS
import Foundation
import Storage

/// Opening a Data.fs for the commands that work without a mount, with
/// every failure turned into one clear line.
enum StoreAccess {
    static func open(_ path: String, readOnly: Bool = true, forMount: Bool = false) throws -> FileStorage {
        do {
            return try FileStorage(path: path, readOnly: readOnly)
        } catch .locked(let lockPath) {
            throw CommandFailure("""
                \(path) is in use: another process (a running Zope or ZEO server?) holds \(lockPath). \
                \(forMount ? "Stop it, or mount with --read-only to serve the store beside it." : "Stop it first.")
                """)
        } catch {
            // StorageError names the path itself.
            throw CommandFailure("\(error)")
        }
    }

    static func filesystem(_ path: String, root: String = "") throws -> ZODBFilesystem {
        let storage = try open(path)
        var options = ZODBFilesystem.Options()
        options.follow = false
        options.rootPath = root
        do {
            return try ZODBFilesystem(storage: storage, options: options)
        } catch {
            throw CommandFailure("\(path): \(error)")
        }
    }
}

/// A failure reported as one line on stderr with a non-zero exit.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) {
        self.description = description
    }
}
