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
        let directory = try TemporaryDirectory()
        let path = directory.path + "/Data.fs"
        let storage = try FileStorage(path: path, readOnly: false, createIfMissing: true)
        defer { storage.close() }
        let (prefix, suffix) = Pickles.bytesMapping(count: 48 << 20)
        let record = prefix + [UInt8](repeating: 0x5a, count: 48 << 20) + suffix
        _ = try storage.commit([.bytes(.root, nil, record)], metadata: TransactionMetadata())

        let file = try FileDescriptor.open(path, .readOnly)
        defer { try? file.close() }
        // The commit was fsynced, so nothing is dirty and DONTNEED drops it all.
        _ = posix_fadvise(file.rawValue, 0, 0, POSIX_FADV_DONTNEED)
        let before = try Self.residentFraction(file, size: Int(storage.size))
        // A filesystem that keeps every page (tmpfs) has nothing to show.
        guard before < 0.5 else { return }

        storage.adviseWillNeed(offset: 0, length: storage.size, descending: true)
        var resident = before
        let deadline = Date().addingTimeInterval(10)
        while resident < 0.99, Date() < deadline {
            usleep(20_000)
            resident = try Self.residentFraction(file, size: Int(storage.size))
        }
        #expect(resident >= 0.99, "only \(Int(resident * 100))% of \(storage.size) bytes were read in")
    }

    /// The read path's prefetch (huge-page workers where the kernel has
    /// them, else WILLNEED) leaves a long range of a cold file cached.
    @Test func prefetchBringsAWholeLongRangeIntoThePageCache() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/Data.fs"
        let storage = try FileStorage(path: path, readOnly: false, createIfMissing: true)
        defer { storage.close() }
        let (prefix, suffix) = Pickles.bytesMapping(count: 40 << 20)
        _ = try storage.commit([.bytes(.root, nil, prefix + [UInt8](repeating: 0xa5, count: 40 << 20) + suffix)],
                               metadata: TransactionMetadata())
        let file = try FileDescriptor.open(path, .readOnly)
        defer { try? file.close() }
        _ = posix_fadvise(file.rawValue, 0, 0, POSIX_FADV_DONTNEED)
        guard try Self.residentFraction(file, size: Int(storage.size)) < 0.5 else { return }

        storage.prefetch(offset: 0, length: storage.size, descending: true)
        var resident = 0.0
        let deadline = Date().addingTimeInterval(10)
        repeat {
            usleep(20_000)
            resident = try Self.residentFraction(file, size: Int(storage.size))
        } while resident < 0.99 && Date() < deadline
        #expect(resident >= 0.99, "only \(Int(resident * 100))% of \(storage.size) bytes were read in")
        // The prefetch workers map what they read only while they read it.
        #expect(try storage.load(.root).data.count == prefix.count + (40 << 20) + suffix.count)
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
