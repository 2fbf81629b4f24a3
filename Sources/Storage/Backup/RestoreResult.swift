/// What a restore wrote.
public struct RestoreResult: Sendable, Equatable {
    /// The size of the restored Data.fs (the end of the chain's last range).
    public var size: UInt64
    /// The backup files read, full backup first.
    public var files: [String]
    /// The `.index` installed beside the output (`FILE.index`), nil when
    /// none was (see ``indexNote``).
    public var index: String?
    /// Why no index was installed, when none was.
    public var indexNote: String?

    public init(size: UInt64, files: [String], index: String?, indexNote: String?) {
        self.size = size
        self.files = files
        self.index = index
        self.indexNote = indexNote
    }
}
