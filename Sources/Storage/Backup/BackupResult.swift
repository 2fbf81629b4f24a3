/// What a backup did, and why.
public struct BackupResult: Sendable, Equatable {
    public enum Kind: String, Sendable { case full, incremental, nothing }
    public var kind: Kind
    /// The backup file written (as named in its `.dat` line); nil when nothing was.
    public var file: String?
    /// The backup file holds bytes `[start, end)` of Data.fs; after it the
    /// repository holds `[0, end)`.
    public var start: UInt64
    public var end: UInt64
    /// Why this kind: "asked for", "the store was packed or replaced", …
    public var reason: String

    public init(kind: Kind, file: String?, start: UInt64, end: UInt64, reason: String) {
        self.kind = kind
        self.file = file
        self.start = start
        self.end = end
        self.reason = reason
    }

    /// The bytes of Data.fs the backup file holds.
    public var bytes: UInt64 { kind == .nothing ? 0 : end - start }
}
