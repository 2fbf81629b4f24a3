/// One line of a `.dat` file: `print(dest, start, end, md5hex)` in
/// `do_full_backup`/`do_incremental_backup` — the backup file's path as
/// repozo was given it, the byte range `[start, end)` of Data.fs it holds
/// and the md5 of those (uncompressed) bytes (zodb_formats §4.1). Only the
/// path's last component is used to find the file, as `repozo -V` does.
public struct DatEntry: Sendable, Equatable {
    public var path: String
    public var start: UInt64
    public var end: UInt64
    public var md5: String

    public init(path: String, start: UInt64, end: UInt64, md5: String) {
        self.path = path
        self.start = start
        self.end = end
        self.md5 = md5
    }

    public var fileName: String { String(path.split(separator: "/").last ?? Substring(path)) }
    /// The backup file the line describes; nil for a name repozo would not write.
    public var file: RepositoryFile? { RepositoryFile(name: fileName) }
    public var size: UInt64 { end - start }
    /// The line as `print` writes it.
    public var line: String { "\(path) \(start) \(end) \(md5)\n" }

    /// Parses one line (`line.split()` into four fields in repozo). A path
    /// with spaces, which repozo itself cannot read back, is taken whole:
    /// the last three fields are the numbers and the sum.
    public init?(line: Substring) {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
        guard fields.count >= 4, let start = UInt64(fields[fields.count - 3]), let end = UInt64(fields[fields.count - 2]),
              start <= end else { return nil }
        let md5 = String(fields[fields.count - 1])
        guard md5.utf8.count == 32, md5.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else { return nil }
        self.init(path: fields[..<(fields.count - 3)].joined(separator: " "), start: start, end: end, md5: md5)
    }

    /// Every line of a `.dat` file's text; blank lines are skipped, any
    /// other line that does not parse is an error naming the file and line.
    /// Lines end in `\n`, `\r\n` or `\r`, as repozo reads them (a text-mode
    /// file: universal newlines); Swift counts `\r\n` as one character, so a
    /// split on `\n` alone would leave it inside the md5 field.
    public static func lines(of text: String, path: String) throws(BackupError) -> [DatEntry] {
        var entries: [DatEntry] = []
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
        for (number, line) in lines.enumerated() {
            if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
            guard let entry = DatEntry(line: line) else {
                throw .badDatLine(path: path, line: number + 1, text: String(line.prefix(200)))
            }
            entries.append(entry)
        }
        return entries
    }
}
