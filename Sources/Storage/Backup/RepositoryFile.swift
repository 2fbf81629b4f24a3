#if canImport(Glibc)
import Glibc
#endif

/// A file of a repozo repository (`ZODB/scripts/repozo.py`, zodb_formats
/// §4.1): a UTC time stamp `YYYY-MM-DD-HH-MM-SS` and a kind — `.fs`/`.fsz`
/// (full backup, gzip), `.deltafs`/`.deltafsz` (incremental), `.dat` (the
/// md5 lines of one full backup and its increments), `.index` (the
/// storage's index as of the backup's end).
public struct RepositoryFile: Sendable, Hashable, Comparable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case full = ".fs"
        case fullGzip = ".fsz"
        case incremental = ".deltafs"
        case incrementalGzip = ".deltafsz"
        case dat = ".dat"
        case index = ".index"

        public var isFull: Bool { self == .full || self == .fullGzip }
        public var isData: Bool { self != .dat && self != .index }
        public var isGzip: Bool { self == .fullGzip || self == .incrementalGzip }
    }

    /// `YYYY-MM-DD-HH-MM-SS`, UTC.
    public var stamp: String
    public var kind: Kind

    public var name: String { stamp + kind.rawValue }
    public var description: String { name }

    public init(stamp: String, kind: Kind) {
        self.stamp = stamp
        self.kind = kind
    }

    /// Nil for a name repozo would not have written.
    public init?(name: String) {
        guard let dot = name.firstIndex(of: "."), let kind = Kind(rawValue: String(name[dot...])) else { return nil }
        let stamp = String(name[..<dot])
        guard Self.isStamp(stamp) else { return nil }
        self.init(stamp: stamp, kind: kind)
    }

    /// Repozo sorts names as strings; stamps make that chronological.
    public static func < (a: RepositoryFile, b: RepositoryFile) -> Bool { a.name < b.name }

    /// The stamp of a time (seconds since the epoch), as `gen_filedate` makes it.
    public static func stamp(for time: Double) -> String {
        var seconds = time_t(time.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return stamp(Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                     Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    /// The time (seconds since the epoch) a stamp names.
    public static func time(of stamp: String) -> Double? {
        let fields = stamp.split(separator: "-").compactMap { Int32($0) }
        guard isStamp(stamp), fields.count == 6 else { return nil }
        var parts = tm()
        parts.tm_year = fields[0] - 1900
        parts.tm_mon = fields[1] - 1
        parts.tm_mday = fields[2]
        parts.tm_hour = fields[3]
        parts.tm_min = fields[4]
        parts.tm_sec = fields[5]
        return Double(timegm(&parts))
    }

    /// A `-D` date, `yyyy-mm-dd[-hh[-mm[-ss]]]` (UTC), as a full stamp (`parse_date`).
    public static func stamp(parsing date: String) -> String? {
        let fields = date.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
        guard (3...6).contains(fields.count), fields.allSatisfy({ $0 != nil }) else { return nil }
        let v = fields.map { $0! } + Array(repeating: 0, count: 6 - fields.count)
        guard (1...12).contains(v[1]), (1...31).contains(v[2]), (0...23).contains(v[3]),
              (0...59).contains(v[4]), (0...61).contains(v[5]) else { return nil }
        return stamp(v[0], v[1], v[2], v[3], v[4], v[5])
    }

    static func stamp(_ values: Int...) -> String {
        let widths = [4, 2, 2, 2, 2, 2]
        return zip(values, widths).map { value, width in
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }.joined(separator: "-")
    }

    static func isStamp(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 19 else { return false }
        for (i, byte) in bytes.enumerated() {
            if [4, 7, 10, 13, 16].contains(i) { if byte != UInt8(ascii: "-") { return false } }
            else if !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { return false }
        }
        return true
    }
}

/// One line of a `.dat` file: `print(dest, start, end, md5hex)` — the
/// backup file's path as repozo was given it, the byte range of Data.fs it
/// holds and the md5 of those (uncompressed) bytes. Only the path's last
/// component is used to find the file (`repozo -V` does the same).
public struct DatEntry: Sendable, Equatable {
    public var path: String
    public var start: UInt64
    public var end: UInt64
    public var md5: String

    public var fileName: String { String(path.split(separator: "/").last ?? Substring(path)) }
    public var line: String { "\(path) \(start) \(end) \(md5)\n" }

    public init(path: String, start: UInt64, end: UInt64, md5: String) {
        self.path = path
        self.start = start
        self.end = end
        self.md5 = md5
    }

    /// Parses a line; the path may contain spaces (the last three fields are numbers and the sum).
    public init?(line: Substring) {
        let fields = line.split(separator: " ")
        guard fields.count >= 4, let start = UInt64(fields[fields.count - 3]), let end = UInt64(fields[fields.count - 2]),
              start <= end else { return nil }
        let md5 = String(fields[fields.count - 1])
        guard md5.utf8.count == 32, md5.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else { return nil }
        self.init(path: fields[..<(fields.count - 3)].joined(separator: " "), start: start, end: end, md5: md5)
    }
}
