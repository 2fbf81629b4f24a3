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

    /// False on a read-only mount (the kernel refuses every write there).
    var isWritable: Bool { access(path, W_OK) == 0 }

    /// The absolute path of the Data.fs the mount serves: the source of its
    /// line in /proc/mounts (zodbfs mounts name it as their `fsname`).
    var servedStore: String? {
        guard let mounts = try? String(contentsOfFile: "/proc/mounts", encoding: .utf8) else { return nil }
        let target = URL(fileURLWithPath: mountpoint).resolvingSymlinksInPath().standardizedFileURL.path
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 2, fields[2].hasPrefix("fuse"), Self.unescaped(fields[1]) == target else { continue }
            return Self.unescaped(fields[0])
        }
        return nil
    }

    /// /proc/mounts writes space, tab, newline and backslash as octal escapes (`\040`).
    static func unescaped(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3, let code = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(code)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func send(_ command: String) throws {
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw CommandFailure("\(path): cannot open for writing (is the mount read-only, or not yours?)")
        }
        defer { try? handle.close() }
        do {
            try handle.write(contentsOf: Data((command + "\n").utf8))
        } catch {
            let status = try? self.status()
            let reason = status?["refused"] ?? status?["reason"]
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
