#if canImport(Glibc)
import Glibc
#endif
import Logging

/// Sends log lines to syslog (the journal on systemd machines) for a
/// daemonized mount, whose stderr goes nowhere. The identity is `zodbfs`,
/// the facility `LOG_DAEMON`; levels map to syslog priorities.
struct SyslogLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    let label: String

    init(label: String) {
        self.label = label
        Self.open
    }

    private static let open: Void = {
        openlog("zodbfs", LOG_PID | LOG_NDELAY, LOG_DAEMON)
    }()

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let message = event.message
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let text = fields.isEmpty ? "\(message)" : "\(message) \(fields)"
        let priority: Int32
        switch event.level {
        case .trace, .debug: priority = LOG_DEBUG
        case .info: priority = LOG_INFO
        case .notice: priority = LOG_NOTICE
        case .warning: priority = LOG_WARNING
        case .error: priority = LOG_ERR
        case .critical: priority = LOG_CRIT
        }
        text.withCString { cText in
            withVaList([cText]) { vsyslog(priority, "%s", $0) }
        }
    }
}
