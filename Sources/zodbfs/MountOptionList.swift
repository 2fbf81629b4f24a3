/// The `-o` options of a mount, as `mount -t fuse.zodbfs` and an fstab line
/// pass them (`mount.fuse3` runs `zodbfs STORE MOUNTPOINT -o a,b=c`): the
/// ones zodbfs understands are taken out, fstab-only words are dropped,
/// everything else goes to FUSE (`nodev`, `nosuid`, `noatime`…).
struct MountOptionList {
    var readOnly: Bool?
    var allowOther = false
    var uid: UInt32?
    var gid: UInt32?
    var umask: UInt32?
    var backupDir: String?
    var root: String?
    var logLevel: String?
    /// `pack_rate=MB/s`, as `--pack-rate`.
    var packRate: Double?
    var fuse: [String] = []

    /// Words that mean something to mount(8) or fstab, not to a filesystem.
    static let fstabOnly: Set<String> = ["defaults", "auto", "noauto", "user", "users", "nouser", "nofail", "_netdev"]

    init(_ lists: [String]) throws {
        for list in lists {
            for option in list.split(separator: ",").map(String.init) where !option.isEmpty {
                let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
                let key = parts[0]
                let value = parts.count > 1 ? parts[1] : nil
                func number(radix: Int = 10) throws -> UInt32 {
                    guard let value, let n = UInt32(value, radix: radix) else {
                        throw CommandFailure("-o \(option): expected \(key)=NUMBER")
                    }
                    return n
                }
                switch key {
                case "ro": readOnly = true
                case "rw": readOnly = false
                case "allow_other": allowOther = true
                case "uid": uid = try number()
                case "gid": gid = try number()
                case "umask": umask = try number(radix: 8)
                case "backup_dir": backupDir = value
                case "root": root = value
                case "log_level": logLevel = value
                case "pack_rate":
                    guard let value, let rate = Double(value), rate > 0 else {
                        throw CommandFailure("-o \(option): expected pack_rate=MB/s, a number above 0")
                    }
                    packRate = rate
                case "zeo":
                    throw CommandFailure("-o zeo: mounting through a ZEO server is not supported yet")
                default:
                    if Self.fstabOnly.contains(key) || key.hasPrefix("x-") || key.hasPrefix("comment=") { continue }
                    fuse.append(option)
                }
            }
        }
    }
}
