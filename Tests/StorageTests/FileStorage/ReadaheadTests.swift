import Foundation
import Storage
import SystemPackage
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Reading ahead for the read path: `adviseWillNeed` over a range longer
/// than one `posix_fadvise` call reads (the kernel drops what is past its
/// limit, so the storage must ask in pieces), and `prefetch`.
@Suite struct ReadaheadTests {
    @Test func willNeedBringsAWholeLongRangeIntoThePageCache() throws {
        try Self.withColdStore(megabytes: 48) { storage, file in
            storage.adviseWillNeed(offset: 0, length: storage.size, descending: true)
            let resident = try Self.residentFraction(afterWaiting: file, size: Int(storage.size))
            #expect(resident >= 0.99, "only \(Int(resident * 100))% of \(storage.size) bytes were read in")
        }
    }

    /// The read path's prefetch (huge-page workers where the kernel has
    /// them, else WILLNEED) leaves a long range of a cold file cached, and
    /// the record reads back whole.
    @Test func prefetchBringsAWholeLongRangeIntoThePageCache() throws {
        try Self.withColdStore(megabytes: 40) { storage, file in
            storage.prefetch(offset: 0, length: storage.size, descending: true)
            let resident = try Self.residentFraction(afterWaiting: file, size: Int(storage.size))
            #expect(resident >= 0.99, "only \(Int(resident * 100))% of \(storage.size) bytes were read in")
            #expect(try storage.load(.root).data.count > 40 << 20)
        }
    }

    /// A storage holding one record of `megabytes`, out of the page cache
    /// (the commit fsynced it, so DONTNEED drops it all). Skipped on a
    /// filesystem that keeps every page (tmpfs): nothing to show there.
    static func withColdStore(megabytes: Int, _ body: (FileStorage, FileDescriptor) throws -> Void) throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/Data.fs"
        let storage = try FileStorage(path: path, readOnly: false, createIfMissing: true)
        defer { storage.close() }
        let (prefix, suffix) = Pickles.bytesMapping(count: megabytes << 20)
        _ = try storage.commit([.bytes(.root, nil, prefix + [UInt8](repeating: 0x5a, count: megabytes << 20) + suffix)],
                               metadata: TransactionMetadata())
        let file = try FileDescriptor.open(path, .readOnly)
        defer { try? file.close() }
        _ = posix_fadvise(file.rawValue, 0, 0, POSIX_FADV_DONTNEED)
        guard try residentFraction(file, size: Int(storage.size)) < 0.5 else { return }
        try body(storage, file)
    }

    /// The share of the file's pages cached once reading stops growing it
    /// (or all are, or 10 s passed): the reads started are asynchronous.
    static func residentFraction(afterWaiting file: FileDescriptor, size: Int) throws -> Double {
        var resident = 0.0
        let deadline = Date().addingTimeInterval(10)
        repeat {
            usleep(20_000)
            resident = try residentFraction(file, size: size)
        } while resident < 0.99 && Date() < deadline
        return resident
    }

    /// The share of the file's pages in the page cache (`mincore`).
    static func residentFraction(_ file: FileDescriptor, size: Int) throws -> Double {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let pages = (size + page - 1) / page
        guard let map = mmap(nil, size, PROT_READ, MAP_SHARED, file.rawValue, 0), map != MAP_FAILED else {
            throw Errno(rawValue: errno)
        }
        defer { munmap(map, size) }
        var vector = [UInt8](repeating: 0, count: pages)
        guard mincore(map, size, &vector) == 0 else { throw Errno(rawValue: errno) }
        return Double(vector.filter { $0 & 1 != 0 }.count) / Double(pages)
    }
}
