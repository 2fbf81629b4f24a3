import Foundation

/// A control file of a running mount (`MOUNTPOINT/.zodbfs/NAME`), as the CLI
/// drives it: a command is one write, the status is `key: value` lines.
struct ControlFile {
    let mountpoint: String
    let path: String

    /// Nil when `mountpoint` is not a zodbfs mount with that control file.
    init?(mountpoint: String, name: String) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: mountpoint, isDirectory: &isDirectory), isDirectory.boolValue else { return nil }
        let path = mountpoint + "/.zodbfs/" + name
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        self.mountpoint = mountpoint
        self.path = path
    }

    func send(_ command: String) throws {
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw CommandFailure("\(path): cannot open for writing (is the mount read-only, or not yours?)")
        }
        defer { try? handle.close() }
        do {
            try handle.write(contentsOf: Data((command + "\n").utf8))
        } catch {
            let reason = (try? self.status()["refused"]) ?? nil
            throw CommandFailure("\(path): \(command) refused: \(reason ?? "\(error)")")
        }
    }

    /// Read to the end: the file's size is 0 for `stat` (its text is made
    /// when it is opened), so readers that trust the size read nothing.
    func status() throws -> [String: String] {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CommandFailure("\(path): cannot open") }
        defer { try? handle.close() }
        let text = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }
}
