import FS
import Foundation
import Storage
import Testing
import TestSupport

/// `.zodbfs/backup`'s job in process: commands, one backup at a time, the
/// status lines the CLI reads.
@Suite struct BackupJobTests {
    static func fields(_ status: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in status.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    @Test func commands() {
        #expect(BackupJob.Command("full", gzipByDefault: false) == BackupJob.Command("  full ", gzipByDefault: false))
        let command = BackupJob.Command("auto quick gzip", gzipByDefault: false)
        #expect(command?.mode == .auto && command?.quick == true && command?.gzip == true)
        #expect(BackupJob.Command("incremental", gzipByDefault: true)?.gzip == true)
        #expect(BackupJob.Command("incremental", gzipByDefault: true)?.text == "incremental gzip")
        for bad in ["", "everything", "full please", "quick", "/etc/passwd"] {
            #expect(BackupJob.Command(bad, gzipByDefault: false) == nil)
        }
    }

    @Test func commandsStartABackupOneAtATime() throws {
        let store = try WritableStore()
        let repository = store.scratch.path("repo")
        try FileManager.default.createDirectory(atPath: repository, withIntermediateDirectories: true)
        let job = BackupJob(repository: BackupRepository(path: repository), storage: store.filesystem.fileStorage)
        #expect(Self.fields(job.statusText())["state"] == "idle")
        #expect(errnoOf { try job.start("everything") } == EINVAL)
        #expect(job.statusText().contains("refused: unknown command"))
        try job.start("full")
        #expect(errnoOf { try job.start("incremental") } == EBUSY, "a backup is running")
        let running = Self.fields(job.statusText())
        #expect(running["state"] == "running" && running["command"] == "full")
        #expect(running["refused"]?.contains("is running") == true)
        #expect(job.waitUntilIdle(timeout: 60))
        var status = Self.fields(job.statusText())
        #expect(status["state"] == "done", "\(status)")
        #expect(status["last_kind"] == "full" && status["last_range"] == "0-\(store.filesystem.storage.size)")
        #expect(status["last_file"]?.hasSuffix(".fs") == true && status["last_reason"] != nil && status["last_duration_s"] != nil)
        #expect(try BackupRepository(path: repository).verify() == [])
        let fullBackup = try #require(status["last_file"])

        // Nothing new; then an increment that must fail refuses cleanly.
        try job.start("auto")
        #expect(job.waitUntilIdle(timeout: 60))
        status = Self.fields(job.statusText())
        #expect(status["state"] == "done" && status["last_kind"] == "nothing" && status["last_bytes"] == "0", "\(status)")
        try FileManager.default.removeItem(atPath: fullBackup)
        try job.start("incremental")
        #expect(job.waitUntilIdle(timeout: 60))
        status = Self.fields(job.statusText())
        #expect(status["state"] == "failed" && status["last_error"] != nil, "\(status)")
    }
}
