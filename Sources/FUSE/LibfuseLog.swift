#if canImport(Glibc)
import Glibc
#endif
import CFuse3
import Logging
import Storage

/// Routes libfuse's own messages (`fuse_log`) into swift-log instead of
/// stderr, and keeps the error-level ones of the current mount attempt so a
/// `FuseError` can say what libfuse said.
///
/// libfuse has one log function per process; installing it again only
/// changes the level.
enum LibfuseLog {
    private struct State {
        var logger = Logger(label: "zodbfs.libfuse")
        /// libfuse sometimes builds one line from several calls.
        var partialLine = ""
        /// Error lines since the last `takeErrors()`.
        var errors: [String] = []
        var installed = false
    }

    private static let state = Guarded(State())

    /// Sends libfuse's messages to the logger; with `debug`, its per-request
    /// trace (`-d`) shows at debug level.
    static func install(debug: Bool) {
        let needsInstall = state.withLock { state in
            state.logger.logLevel = debug ? .debug : .info
            defer { state.installed = true }
            return !state.installed
        }
        if needsInstall {
            fuse_set_log_func { level, format, arguments in
                guard let format, let arguments else { return }
                var buffer = [CChar](repeating: 0, count: 4096)
                let written = buffer.withUnsafeMutableBufferPointer {
                    vsnprintf($0.baseAddress, $0.count, format, arguments)
                }
                guard written > 0 else { return }
                let text = buffer.prefix(min(Int(written), buffer.count - 1)).map { UInt8(bitPattern: $0) }
                LibfuseLog.record(level: level, text: String(decoding: text, as: UTF8.self))
            }
        }
    }

    /// Returns and forgets the error lines logged since the last call.
    static func takeErrors() -> [String] {
        state.withLock { state in
            defer { state.errors = [] }
            return state.errors
        }
    }

    private static func record(level: fuse_log_level, text: String) {
        state.withLock { state in
            state.partialLine += text
            guard state.partialLine.hasSuffix("\n") else { return }
            var line = state.partialLine
            state.partialLine = ""
            while line.hasSuffix("\n") { line.removeLast() }
            if line.hasPrefix("fuse: ") { line.removeFirst(6) }
            switch level {
            case FUSE_LOG_EMERG, FUSE_LOG_ALERT, FUSE_LOG_CRIT, FUSE_LOG_ERR:
                state.errors.append(line)
                if state.errors.count > 16 { state.errors.removeFirst() }
                state.logger.error("\(line)")
            case FUSE_LOG_WARNING: state.logger.warning("\(line)")
            case FUSE_LOG_NOTICE: state.logger.notice("\(line)")
            case FUSE_LOG_INFO: state.logger.info("\(line)")
            default: state.logger.debug("\(line)")
            }
        }
    }
}
