import FS
import Foundation
import Storage

/// Opening a Data.fs for the commands that work without a mount, with
/// every failure turned into one clear line.
enum StoreAccess {
    static func open(_ path: String, readOnly: Bool = true) throws -> FileStorage {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandFailure("\(path): no such file")
        }
        do {
            return try FileStorage(path: path, readOnly: readOnly)
        } catch {
            throw CommandFailure("\(path): \(error)")
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
