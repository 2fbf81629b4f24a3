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
        /// A backup file (repozo's `is_data_file`), not a `.dat` or `.index`.
        public var isData: Bool { self != .dat && self != .index }
        public var isGzip: Bool { self == .fullGzip || self == .incrementalGzip }

        /// The kind of a backup file (`gen_filename`).
        public static func data(full: Bool, gzip: Bool) -> Kind {
            full ? (gzip ? .fullGzip : .full) : (gzip ? .incrementalGzip : .incremental)
        }
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

    /// The file of the same backup with another kind (its `.dat`, its `.index`).
    public func with(_ kind: Kind) -> RepositoryFile { RepositoryFile(stamp: stamp, kind: kind) }

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
        guard isStamp(stamp) else { return nil }
        let v = stamp.split(separator: "-").map { Int($0)! }
        var parts = tm()
        parts.tm_year = Int32(v[0] - 1900)
        parts.tm_mon = Int32(v[1] - 1)
        parts.tm_mday = Int32(v[2])
        parts.tm_hour = Int32(v[3])
        parts.tm_min = Int32(v[4])
        parts.tm_sec = Int32(v[5])
        return Double(timegm(&parts))
    }

    /// A `-D` date, `yyyy-mm-dd[-hh[-mm[-ss]]]` (UTC), as a full stamp.
    /// Repozo compares the text itself with the stamps, so `2026-11-22`
    /// selects what `2026-11-22-00-00-00` does.
    public static func stamp(parsing date: String) -> String? {
        let fields = date.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
        guard (3...6).contains(fields.count), fields.allSatisfy({ $0 != nil }) else { return nil }
        let v = fields.map { $0! } + Array(repeating: 0, count: 6 - fields.count)
        guard (0...9999).contains(v[0]), (1...12).contains(v[1]), (1...31).contains(v[2]), (0...23).contains(v[3]),
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
            if [4, 7, 10, 13, 16].contains(i) {
                if byte != UInt8(ascii: "-") { return false }
            } else if !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                return false
            }
        }
        return true
    }
}
