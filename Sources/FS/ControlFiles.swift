import Storage

/// The virtual `.zodbfs` folder at the mount root (DESIGN.md "Control
/// files"). Its nodes live in the reserved inode range, their content is
/// made when they are opened and served with direct I/O, so every `cat`
/// shows current figures even though `stat` cannot know the size ahead.
public enum ControlNode: UInt64, CaseIterable, Sendable {
    case folder = 0
    case info = 1
    case stats = 2
    case pack = 3
    case backup = 4

    static let folderName = ".zodbfs"

    var inode: InodeNumber { InodeNumber(InodeMap.virtualBase + rawValue) }

    init?(inode: InodeNumber) {
        guard InodeMap.isVirtual(inode) else { return nil }
        self.init(rawValue: inode.rawValue - InodeMap.virtualBase)
    }

    /// File names inside `.zodbfs`.
    var name: String {
        switch self {
        case .folder: return Self.folderName
        case .info: return "info"
        case .stats: return "stats"
        case .pack: return "pack"
        case .backup: return "backup"
        }
    }

    static let files: [ControlNode] = [.info, .stats, .pack, .backup]

    /// Files a command can be written to (a job starts), as opposed to
    /// files that only report.
    var acceptsCommands: Bool { self == .pack || self == .backup }
}
