import FS
import Foundation
import Storage
import Testing
import TestSupport

@Suite struct PackJobTests {
    @Test func commandsNameAPackTime() throws {
        let now = Date(timeIntervalSince1970: 1_796_000_000)
        func time(_ command: String) -> Date? { try? PackJob.packTime(command, now: now).get() }
        #expect(time("now") == now)
        #expect(time(" now\n") == now)
        #expect(time("7") == now.addingTimeInterval(-7 * 86400))
        #expect(time("0.5") == now.addingTimeInterval(-43200))
        #expect(time("2026-11-01T12:30:00Z") == Date(timeIntervalSince1970: 1_793_536_200))
        #expect(time("2026-11-01T12:30:00.250Z") == Date(timeIntervalSince1970: 1_793_536_200.25))
        #expect(time("2026-11-01T13:30:00+01:00") == Date(timeIntervalSince1970: 1_793_536_200))
        #expect(time("2026-11-01") == Date(timeIntervalSince1970: 1_793_491_200))
        #expect(time("2026-11-01T12:30:00") == Date(timeIntervalSince1970: 1_793_536_200))
        #expect(time("2026-11-01 12:30:00") == Date(timeIntervalSince1970: 1_793_536_200))
        for bad in ["yesterday", "-1", "nan", "inf", "2030-01-01T00:00:00Z", "now please", "", "2026-11-01T12:30", "2026-11-01 noon"] {
            #expect(time(bad) == nil, "\(bad)")
        }
        guard case .failure(let error) = PackJob.packTime("2030-01-01T00:00:00Z", now: now) else { return }
        #expect(error.description.contains("in the future"))
    }

    /// A pack started through the job while a file is open: the handle
    /// reads on, correctly, from the packed file; a second command is
    /// EBUSY, a bad one EINVAL with the reason in the status; Zope reads the
    /// packed store.
    @Test func aPackKeepsOpenFilesReading() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let store = try WritableStore()
        let fs = store.filesystem
        let big = try #require(fixture.files.first { $0.path == "files/big.bin" })
        // Garbage for the pack: a replaced and a removed file.
        try store.write("files/chain-1MiB.bin", pseudoRandomBytes(300_000, seed: 7))
        let (folder, name) = try store.split("files/text-300000.txt")
        try fs.unlink(parent: folder, name: name)

        let inode = try fs.resolve(path: big.path)
        let handle = try fs.open(inode, flags: O_RDONLY).handle
        defer { fs.release(inode, handle: handle) }
        var bytes = try fs.read(inode, handle: handle, offset: 0, size: 1 << 20).assembled(path: fs.fileStorage.path)
        #expect(bytes.count == 1 << 20)

        let job = PackJob(storage: fs.storage)
        #expect(errnoOf { try job.start("sometime") } == EINVAL)
        #expect(job.statusText().contains("refused: invalid argument: unknown command"))
        try job.start("now")
        #expect(errnoOf { try job.start("now") } == EBUSY)
        var waited = 0
        while job.statusText().contains("state: running") && waited < 1200 {
            Thread.sleep(forTimeInterval: 0.05)
            waited += 1
        }
        let status = job.statusText()
        #expect(status.contains("state: idle"))
        #expect(status.contains("ok: "), "\(status)")
        #expect(fs.fileStorage.generation == 1)

        while bytes.count < big.size! {
            let chunk = try fs.read(inode, handle: handle, offset: UInt64(bytes.count), size: 1 << 20).assembled(path: fs.fileStorage.path)
            if chunk.isEmpty { break }
            bytes += chunk
        }
        #expect(bytes.count == big.size)
        #expect(sha256Hex(bytes) == big.sha256)
        #expect(errnoOf { _ = try fs.resolve(path: "files/text-300000.txt") } == ENOENT)
        #expect(try store.read("files/chain-1MiB.bin") == pseudoRandomBytes(300_000, seed: 7))

        let verification = try store.verify()
        #expect(verification.problems.isEmpty, "\(verification.problems)")
        #expect(verification["files/big.bin"]?.sha256 == big.sha256)
    }
}
