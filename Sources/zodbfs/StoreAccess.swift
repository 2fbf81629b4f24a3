import FS
import Foundation
import Storage

/// Opening a Data.fs for the commands that work without a mount, with
/// every failure turned into one clear line.
enum StoreAccess {
    static func open(_ path: String, readOnly: Bool = true, forMount: Bool = false) throws -> FileStorage {
        // A store without a usable index is scanned first: show it (not for
        // a mount, whose stderr may be a log).
        let bar = forMount ? nil : ProgressBar()
        defer { bar?.finish() }
        do {
            return try FileStorage(path: path, readOnly: readOnly, scanProgress: bar.map { bar in
                { done, total in bar.update(phase: "scanning \(path) (no index)", done: done, total: total) }
            })
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
