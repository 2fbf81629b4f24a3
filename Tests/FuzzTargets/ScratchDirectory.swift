#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Storage

/// A private directory under `$TMPDIR` (else `/tmp`) for the files a fuzz
/// input has to become: the storage and index parsers read paths, not
/// buffers, so each input is written to a file there and parsed back.
///
/// One directory per target and process, made on first use and reused by
/// every input, so targets can run side by side (the regression tests run in
/// parallel), and removed when the process exits; `Scripts/fuzz` also points
/// `TMPDIR` at a directory of its own and removes that after the run, for
/// processes that end in a crash.
public final class ScratchDirectory: Sendable {
    public let path: String

    /// - Parameter target: a name for the directory, to tell targets apart.
    public init(for target: String) {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array((base + "/zodbfs-fuzz-\(target)-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            fatalError("cannot make a scratch directory under \(base): errno \(errno)")
        }
        path = String(cString: made)
        madeDirectories.withLock { directories in
            if directories.isEmpty { atexit { removeMadeDirectories() } }
            directories.append(path)
        }
    }

    /// The path of `name` in the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Replaces the file `name` with `bytes`; returns its path.
    @discardableResult
    public func save(_ bytes: [UInt8], as name: String) -> String {
        let target = file(name)
        let descriptor = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { fatalError("cannot write \(target): errno \(errno)") }
        defer { close(descriptor) }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, bytes.count - written) }
            guard result > 0 else { fatalError("cannot write \(target): errno \(errno)") }
            written += result
        }
        return target
    }

    /// Removes the file `name` if it exists.
    public func remove(_ name: String) {
        unlink(file(name))
    }
}

/// The scratch directories of this process, for `atexit`.
private let madeDirectories = Guarded<[String]>([])

/// Removes each scratch directory and the files the targets wrote into it
/// (never subdirectories).
private func removeMadeDirectories() {
    for directory in madeDirectories.withLock({ $0 }) {
        if let stream = opendir(directory) {
            while let entry = readdir(stream) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                if name != "." && name != ".." { unlink(directory + "/" + name) }
            }
            closedir(stream)
        }
        rmdir(directory)
    }
}
