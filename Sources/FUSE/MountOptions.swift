/// How to mount: where, with which kernel options, and how the session runs.
public struct MountConfiguration: Sendable {
    /// The directory to mount on. Relative paths are resolved against the
    /// current directory before mounting.
    public var mountpoint: String
    /// Adds `-o ro`: the kernel itself refuses every modifying call with EROFS.
    public var readOnly: Bool
    /// Adds `-o allow_other` so users other than the mounting one (nginx's
    /// `www-data`, say) can use the mount. `default_permissions` is always on,
    /// so the kernel checks the mode bits the filesystem reports.
    public var allowOther: Bool
    /// Shown as the source in `/proc/mounts` and `df`: the Data.fs path.
    /// The type shows as `fuse.zodbfs`.
    public var fsName: String
    /// Further `-o` options handed to libfuse unchanged (`noatime`, `auto_unmount`, ...).
    public var extraOptions: [String]
    /// The most threads the session loop runs requests on (`fuse_loop_cfg_set_max_threads`).
    public var workerThreads: Int
    /// Written to `/sys/class/bdi/<major>:<minor>/read_ahead_kb` once the
    /// kernel has initialised the mount. The kernel sizes buffered READ
    /// requests by it (up to the 1 MiB of `max_pages`); its default of 128
    /// gives 128 KiB requests. 0 leaves the kernel's value alone.
    /// ``splicedReadAheadKiB`` is the usual choice.
    public var readAheadKiB: Int
    /// libfuse prints every request and reply (`-d`), through the logger.
    public var debug: Bool

    /// The largest readahead whose READ replies can still be spliced from
    /// Data.fs (``SpliceCapacity``): 1 MiB where pipes can grow past
    /// `pipe-max-size`, else less — 896 KiB with the default 1 MiB pipes.
    /// A reply copied instead costs one more copy of every byte, more than
    /// the extra requests of a smaller window: the first pass of a 640 MiB
    /// file over a cached Data.fs went from 1.9–2.2 GB/s to 2.2–2.4 GB/s
    /// (three alternated runs each).
    public static var splicedReadAheadKiB: Int { SpliceCapacity.largestSplicedReadKiB }

    public init(mountpoint: String, readOnly: Bool = true, allowOther: Bool = false, fsName: String = "zodbfs",
                extraOptions: [String] = [], workerThreads: Int = 8,
                readAheadKiB: Int = MountConfiguration.splicedReadAheadKiB, debug: Bool = false) {
        self.mountpoint = mountpoint
        self.readOnly = readOnly
        self.allowOther = allowOther
        self.fsName = fsName
        self.extraOptions = extraOptions
        self.workerThreads = workerThreads
        self.readAheadKiB = readAheadKiB
        self.debug = debug
    }

    /// The type shown after `fuse.` in `/proc/mounts`.
    static let subtype = "zodbfs"

    /// Checks the values libfuse would otherwise reject late or silently clamp.
    func validate() throws(FuseError) {
        func invalid(_ why: String) -> FuseError { FuseError(.invalidConfiguration, detail: why) }
        if mountpoint.isEmpty { throw invalid("the mountpoint is empty") }
        if fsName.isEmpty { throw invalid("fsName is empty") }
        if !(1...10_000).contains(workerThreads) { throw invalid("workerThreads must be 1...10000, not \(workerThreads)") }
        if !(0...1_048_576).contains(readAheadKiB) { throw invalid("readAheadKiB must be 0...1048576, not \(readAheadKiB)") }
        if let bad = extraOptions.first(where: { $0.isEmpty || $0.contains("\0") }) {
            throw invalid("bad extra option \"\(bad)\"")
        }
    }

    /// The `-o` options, in the order libfuse sees them.
    var mountOptions: [String] {
        var options = ["fsname=\(Self.escapeOptionValue(fsName))", "subtype=\(Self.subtype)", "default_permissions"]
        if readOnly { options.append("ro") }
        if allowOther { options.append("allow_other") }
        options += extraOptions
        return options
    }

    /// The argument vector for `fuse_session_new`.
    var arguments: [String] {
        var arguments = ["zodbfs", "-o", mountOptions.joined(separator: ",")]
        if debug { arguments.append("-d") }
        return arguments
    }

    /// libfuse splits `-o` lists at commas; a backslash escapes the next character.
    static func escapeOptionValue(_ value: String) -> String {
        var escaped = ""
        for character in value {
            if character == "," || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}
