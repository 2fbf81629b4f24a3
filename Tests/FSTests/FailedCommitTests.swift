import FS
import Foundation
@_spi(Testing) import Storage
import Testing
import TestSupport

/// Every filesystem call that commits — close of a new file and of a
/// changed one, truncate, mkdir, unlink, rmdir, rename, in a Folder and in a
/// BTreeFolder2 — with its transaction failing in the storage (a short
/// write with ENOSPC, an fsync with EIO): the call reports that errno, the
/// filesystem shows what the store holds (the change did not happen), the
/// next call works, and the real ZODB and Zope find the store clean.
@Suite("Failed commits through the filesystem", .serialized)
struct FailedCommitTests {
    enum Fault: CaseIterable, CustomStringConvertible {
        case shortWriteENOSPC, shortWriteEIO, fsyncEIO, fsyncENOSPC

        var errno: Int32 {
            switch self {
            case .shortWriteENOSPC, .fsyncENOSPC: ENOSPC
            case .shortWriteEIO, .fsyncEIO: EIO
            }
        }

        var faults: CommitFaults {
            var faults = CommitFaults()
            switch self {
            case .shortWriteENOSPC, .shortWriteEIO: faults.failWrite = (afterBytes: 40, errno: errno)
            case .fsyncEIO, .fsyncENOSPC: faults.failSync = errno
            }
            return faults
        }

        var description: String {
            switch self {
            case .shortWriteENOSPC: "short write, ENOSPC"
            case .shortWriteEIO: "short write, EIO"
            case .fsyncEIO: "fsync, EIO"
            case .fsyncENOSPC: "fsync, ENOSPC"
            }
        }
    }

    static func setattrSize(_ size: UInt64) -> AttributeChanges {
        var changes = AttributeChanges()
        changes.size = size
        return changes
    }

    /// Runs `body` with the next commit failing; expects it to throw `fault.errno`.
    static func failing(_ store: WritableStore, _ fault: Fault, _ what: String,
                        sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
        let size = store.filesystem.storage.size
        store.filesystem.fileStorage.setCommitFaults(fault.faults)
        #expect(errnoOf(body) == fault.errno, "\(what) (\(fault))", sourceLocation: sourceLocation)
        store.filesystem.fileStorage.setCommitFaults(CommitFaults())
        #expect(store.filesystem.storage.size == size, "\(what) (\(fault)): nothing stays in the store", sourceLocation: sourceLocation)
    }

    @Test("each committing call fails with the storage's errno, changes nothing, and the next call works",
          arguments: Fault.allCases)
    func everyCommittingCall(_ fault: Fault) throws {
        let store = try WritableStore()
        let fs = store.filesystem
        let old = pseudoRandomBytes(150_000, seed: 1)
        for folder in ["docs", "many"] {
            try store.write("\(folder)/existing.bin", old)
            _ = try fs.mkdir(parent: try store.inode(folder), name: "existing dir", mode: 0o755)
        }
        let before = try store.filesystem.fileStorage.transactions().count

        for folder in ["docs", "many"] {
            let parent = try store.inode(folder)
            // A new file's close.
            let new = pseudoRandomBytes(70_000, seed: 2)
            let (entry, open) = try fs.create(parent: parent, name: "new.bin", mode: 0o644, flags: O_WRONLY | O_CREAT)
            _ = try new.withUnsafeBytes { try fs.write(entry.attributes.inode, handle: open.handle, offset: 0, bytes: $0) }
            Self.failing(store, fault, "\(folder): close of a new file") { try fs.flush(entry.attributes.inode, handle: open.handle) }
            fs.release(entry.attributes.inode, handle: open.handle)
            #expect(errnoOf { _ = try fs.lookup(parent: parent, name: "new.bin") } == ENOENT, "\(folder) (\(fault))")

            // A changed file's close, and a truncate by path.
            let existing = try store.inode("\(folder)/existing.bin")
            let handle = try fs.open(existing, flags: O_WRONLY).handle
            _ = try new.withUnsafeBytes { try fs.write(existing, handle: handle, offset: 100_000, bytes: $0) }
            Self.failing(store, fault, "\(folder): close of a changed file") { try fs.flush(existing, handle: handle) }
            fs.release(existing, handle: handle)
            Self.failing(store, fault, "\(folder): truncate") { _ = try fs.setattr(existing, handle: nil, changes: Self.setattrSize(10)) }
            #expect(try store.read("\(folder)/existing.bin") == old, "\(folder) (\(fault))")
            #expect(try fs.getattr(existing).size == UInt64(old.count), "\(folder) (\(fault))")

            // Namespace changes.
            Self.failing(store, fault, "\(folder): mkdir") { _ = try fs.mkdir(parent: parent, name: "new dir", mode: 0o755) }
            #expect(errnoOf { _ = try fs.lookup(parent: parent, name: "new dir") } == ENOENT, "\(folder) (\(fault))")
            Self.failing(store, fault, "\(folder): unlink") { try fs.unlink(parent: parent, name: "existing.bin") }
            Self.failing(store, fault, "\(folder): rmdir") { try fs.rmdir(parent: parent, name: "existing dir") }
            Self.failing(store, fault, "\(folder): rename") {
                try fs.rename(parent: parent, name: "existing.bin", newParent: try store.inode("files"), newName: "moved.bin", flags: 0)
            }
            Self.failing(store, fault, "\(folder): rename of a folder") {
                try fs.rename(parent: parent, name: "existing dir", newParent: parent, newName: "renamed dir", flags: 0)
            }
            #expect(try store.read("\(folder)/existing.bin") == old, "\(folder) (\(fault))")
            #expect(try fs.getattr(try store.inode("\(folder)/existing dir")).kind == .directory, "\(folder) (\(fault))")
            #expect(errnoOf { _ = try fs.lookup(parent: try store.inode("files"), name: "moved.bin") } == ENOENT)
            #expect(errnoOf { _ = try fs.lookup(parent: parent, name: "renamed dir") } == ENOENT)
        }
        #expect(try store.filesystem.fileStorage.transactions().count == before, "no failed call left a transaction")

        // The same calls work afterwards, and their results are what Zope reads.
        let after = pseudoRandomBytes(70_000, seed: 3)
        for folder in ["docs", "many"] {
            let parent = try store.inode(folder)
            try store.write("\(folder)/new.bin", after)
            _ = try fs.setattr(try store.inode("\(folder)/existing.bin"), handle: nil, changes: Self.setattrSize(10))
            _ = try fs.mkdir(parent: parent, name: "new dir", mode: 0o755)
            try fs.rmdir(parent: parent, name: "existing dir")
            try fs.rename(parent: parent, name: "existing.bin", newParent: try store.inode("files"), newName: "moved-\(folder).bin", flags: 0)
        }
        try store.reopen()
        #expect(try store.read("docs/new.bin") == after)
        let report = try store.verify()
        #expect(report.problems == [], "\(fault)")
        for folder in ["docs", "many"] {
            #expect(report["\(folder)/new.bin"]?.sha256 == sha256Hex(after), "\(folder) (\(fault))")
            #expect(report["\(folder)/new dir"]?.kind == "folder", "\(folder) (\(fault))")
            #expect(report["\(folder)/existing dir"] == nil, "\(folder) (\(fault))")
            #expect(report["\(folder)/existing.bin"] == nil, "\(folder) (\(fault))")
            #expect(report["files/moved-\(folder).bin"]?.sha256 == sha256Hex(old.prefix(10)), "\(folder) (\(fault))")
        }
    }
}
