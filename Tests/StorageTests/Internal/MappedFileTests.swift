import Foundation
@testable import Storage
import SystemPackage
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The residency check pack makes before it reads (so that it can leave
/// cached what was cached before): stretches with nothing cached are
/// skipped by `cachestat`, the rest asked page by page, and the answer is
/// `mincore`'s over the whole file.
@Suite struct MappedFileTests {
    @Test func residentPagesAreMincoresAnswerWithColdStretchesSkipped() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/data"
        let size = 2 * MappedFile.residencyStep + (5 << 20)
        let file = try FileDescriptor.open(path, .readWrite, options: [.create, .truncate], permissions: [.ownerReadWrite])
        defer { try? file.close() }
        let piece = [UInt8](repeating: 0x5a, count: 1 << 20)
        for offset in stride(from: 0, to: size, by: piece.count) {
            _ = try file.writeAll(toAbsoluteOffset: Int64(offset), piece)
        }
        _ = fsync(file.rawValue)
        _ = posix_fadvise(file.rawValue, 0, 0, POSIX_FADV_DONTNEED)
        let map = try MappedFile(file, count: UInt64(size))
        guard map.residentPages(at: 0, count: size).allSatisfy({ !$0 }) else {
            // Another process holds the file's pages; nothing to compare.
            return
        }
        // Cached: a stretch in the second step, and the file's last pages.
        var buffer = [UInt8](repeating: 0, count: 300 << 10)
        _ = try buffer.withUnsafeMutableBytes {
            try file.read(fromAbsoluteOffset: Int64(MappedFile.residencyStep + (7 << 20)), into: $0)
        }
        _ = try buffer.withUnsafeMutableBytes { try file.read(fromAbsoluteOffset: Int64(size - (100 << 10)), into: $0) }

        // `cachestat` answers (Linux 6.5): counts, not a fallback to `mincore`.
        #expect(file.cachedPageCount(offset: 0, length: UInt64(MappedFile.residencyStep)) == 0)
        #expect((file.cachedPageCount(offset: 0, length: UInt64(size)) ?? 0) > 0)

        let answer = map.residentPages(at: 0, count: size)
        let expected = try Self.mincore(file, size: size)
        #expect(answer == expected)
        #expect(answer.contains(true))
        #expect(!answer[..<(MappedFile.residencyStep / MappedFile.pageSize)].contains(true))
        // A window not starting at a step's boundary.
        let start = MappedFile.residencyStep + (6 << 20) + 123
        let window = map.residentPages(at: start, count: 4 << 20)
        let first = start / MappedFile.pageSize
        #expect(window == Array(expected[first..<(first + window.count)]))
    }

    /// The pack walk's own mapping: the same bytes, at an address one page
    /// past a 2 MiB boundary, so that the kernel cannot map a cached 2 MiB
    /// folio into it whole.
    @Test func aSmallPageMappingReadsTheFileOnePageOffHugePageAlignment() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/data"
        let size = (6 << 20) + 12345
        let file = try FileDescriptor.open(path, .readWrite, options: [.create, .truncate], permissions: [.ownerReadWrite])
        defer { try? file.close() }
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) }
        _ = try file.writeAll(toAbsoluteOffset: 0, bytes)
        let plain = try MappedFile(file, count: UInt64(size))
        for _ in 0..<3 {
            let small = try MappedFile(file, count: UInt64(size), smallPages: true)
            let address = small.withBytes(at: 0, count: 1) { Int(bitPattern: $0.baseAddress) }
            #expect(address % (2 << 20) == MappedFile.pageSize)
            #expect(small.bytes(at: 0, count: size) == bytes)
            #expect(small.bytes(at: (2 << 20) - 7, count: 100) == plain.bytes(at: (2 << 20) - 7, count: 100))
            #expect(small.uint64BE(at: size - 8) == plain.uint64BE(at: size - 8))
        }
    }

    /// Every page's flag, from one `mincore` over a mapping of the whole file.
    static func mincore(_ file: FileDescriptor, size: Int) throws -> [Bool] {
        let page = MappedFile.pageSize
        guard let map = mmap(nil, size, PROT_READ, MAP_SHARED, file.rawValue, 0), map != MAP_FAILED else {
            throw Errno(rawValue: errno)
        }
        defer { munmap(map, size) }
        var vector = [UInt8](repeating: 0, count: (size + page - 1) / page)
        guard Glibc.mincore(map, size, &vector) == 0 else { throw Errno(rawValue: errno) }
        return vector.map { $0 & 1 != 0 }
    }
}
