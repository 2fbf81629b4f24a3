import Storage

/// A long-running job started by writing a command to a control file
/// (`.zodbfs/pack`, `.zodbfs/backup`; DESIGN.md "Control files").
///
/// `start` must return at once — the job runs on its own thread — so the
/// `write(2)` that started it returns too; reading the file shows
/// `statusText()`, which carries live progress and the last result. A
/// command the job cannot take fails the write: `.busy` while one runs
/// (EBUSY), `.invalidArgument` with the reason for a bad command (EINVAL,
/// and the status says why), `.readOnly` where the mount forbids it.
public protocol ControlJob: AnyObject, Sendable {
    func start(_ command: String) throws(FSError)
    func statusText() -> String
    /// True while the job runs (`zodbfs_job_running` in `.zodbfs/stats`).
    var isRunning: Bool { get }
}

/// The job behind a control file that cannot run here (no `--backup-dir`,
/// a read-only mount for pack): every command is EINVAL, or the given
/// error, and the status says why.
public final class UnavailableJob: ControlJob {
    let reason: String
    let error: FSError
    private let lastCommand = Guarded<String?>(nil)

    public init(reason: String, error: FSError? = nil) {
        self.reason = reason
        self.error = error ?? .invalidArgument(reason)
    }

    public func start(_ command: String) throws(FSError) {
        lastCommand.withLock { $0 = command }
        throw error
    }

    public var isRunning: Bool { false }

    public func statusText() -> String {
        var text = "state: unavailable\nreason: \(reason)\n"
        if let command = lastCommand.withLock({ $0 }) { text += "refused: \(command)\n" }
        return text
    }
}

extension ZODBFilesystem {
    /// Puts `job` behind a control file (`.pack` or `.backup`), replacing
    /// what was there.
    public func install(_ job: any ControlJob, as node: ControlNode) {
        precondition(node.acceptsCommands, "\(node) takes no commands")
        jobsTable.withLock { $0[node] = job }
    }

    func job(_ node: ControlNode) -> any ControlJob {
        if let job = jobsTable.withLock({ $0[node] }) { return job }
        switch node {
        case .pack where options.readOnly:
            return UnavailableJob(reason: "the mount is read-only", error: .readOnly)
        case .backup:
            return UnavailableJob(reason: "no backup repository: mount with --backup-dir DIR")
        default:
            return UnavailableJob(reason: "not available on this mount")
        }
    }

    /// Whether pack and backup run, for `.zodbfs/stats`.
    func jobMetrics() -> String {
        var out = "# HELP zodbfs_job_running 1 while a pack or backup started through its control file runs\n"
        out += "# TYPE zodbfs_job_running gauge\n"
        for node in [ControlNode.pack, .backup] {
            out += "zodbfs_job_running{job=\"\(node.name)\"} \(job(node).isRunning ? 1 : 0)\n"
        }
        return out
    }

    /// A write to a control file: the whole write is one command
    /// (`echo now > .zodbfs/pack`); surrounding white space is ignored.
    func command(_ node: ControlNode, bytes: UnsafeRawBufferPointer) throws(FSError) -> Int {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .invalidArgument("a command must be UTF-8 text")
        }
        let command = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !command.isEmpty else { return bytes.count }
        try job(node).start(command)
        return bytes.count
    }
}
