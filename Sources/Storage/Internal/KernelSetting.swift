import SystemPackage

/// A kernel setting under `/sys` or `/proc`: a file of a few bytes, read
/// whole. Nil when it is missing or unreadable (no sysfs, another OS).
enum KernelSetting {
    static func text(_ path: String) -> String? {
        guard let file = try? FileDescriptor.open(path, .readOnly, options: .closeOnExec) else { return nil }
        defer { try? file.close() }
        var buffer = [UInt8](repeating: 0, count: 256)
        guard let count = try? buffer.withUnsafeMutableBytes({ try file.read(into: $0) }), count > 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }

    /// The setting as a number (`read_ahead_kb`), its digits only.
    static func number(_ path: String) -> UInt64? {
        text(path).flatMap { UInt64($0.filter(\.isNumber)) }
    }
}
