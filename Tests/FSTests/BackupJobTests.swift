import FS
import Foundation
import Storage
import Testing
import TestSupport

@Suite struct BackupJobTests {
    @Test func commandsStartABackupOneAtATime() throws {
        let store = try WritableStore()
        let repository = store.scratch.path("repo")
        try FileManager.default.createDirectory(atPath: repository, withIntermediateDirectories: true)
        let job = BackupJob(repository: BackupRepository(path: repository), storage: store.filesystem.storage)
        #expect(errnoOf { try job.start("everything") } == EINVAL)
        #expect(job.statusText().contains("refused: unknown command"))
        try job.start("full")
        #expect(errnoOf { try job.start("incremental") } == EBUSY, "a backup is running")
        #expect(job.statusText().contains("state: running"))
        var waited = 0
        while job.statusText().contains("state: running") && waited < 600 {
            Thread.sleep(forTimeInterval: 0.05)
            waited += 1
        }
        let status = job.statusText()
        #expect(status.contains("state: idle"))
        #expect(status.contains("full ok: full backup of bytes 0-\(store.filesystem.storage.size)"), "\(status)")
        #expect(try BackupRepository(path: repository).verify() == [])
    }
}
