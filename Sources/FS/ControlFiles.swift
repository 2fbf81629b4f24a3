import Storage

/// The virtual `.zodbfs` folder at the mount root (DESIGN.md "Control
/// files"). Its nodes live in the reserved inode range, their content is
/// made when they are opened and served with direct I/O, so every `cat`
/// shows current figures even though `stat` cannot know the size ahead.
enum ControlNode: UInt64, CaseIterable, Sendable {
    case folder = 0
    case info = 1
    case stats = 2

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
        }
    }

    static let files: [ControlNode] = [.info, .stats]
}
