// A read-only memory map of a prefix of a file, for pack — its reachability
// walk reads millions of small records at random positions, which through
// `pread` would cost a system call and a copy each — and for the read
// path's prefetcher (huge-page faults). This file, Syscalls.swift and
// Monitor.swift are the only ones of the target that touch libc or unsafe
// pointers.

import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The first `count` bytes of a file, mapped read-only (`mmap(PROT_READ,
/// MAP_SHARED)`). The file must not shrink below `count` while mapped:
/// FileStorage only appends, and a read-write storage holds the lock.
final class MappedFile {
    let count: Int
    private let base: UnsafeRawPointer?
    let descriptor: FileDescriptor

    /// - Parameter smallPages: map it one page off the 2 MiB alignment of
    ///   the file, so that no fault maps a whole 2 MiB folio (see
    ///   ``mapOffHugePages(_:count:)``).
    /// - Throws: the `mmap` errno.
    init(_ descriptor: FileDescriptor, count: UInt64, smallPages: Bool = false) throws(Errno) {
        self.descriptor = descriptor
        self.count = Int(count)
        guard count > 0 else {
            base = nil
            return
        }
        let address = if smallPages {
            try Self.mapOffHugePages(descriptor, count: Int(count))
        } else {
            mmap(nil, Int(count), PROT_READ, MAP_SHARED, descriptor.rawValue, 0)
        }
        guard let address, address != MAP_FAILED else { throw Errno(rawValue: errno) }
        base = UnsafeRawPointer(address)
    }

    /// Maps the first `count` bytes of the file at an address one page past
    /// a 2 MiB boundary. Why: the kernel maps a cached 2 MiB folio with one page
    /// table entry into any mapping whose address and file offset agree
    /// modulo 2 MiB, whatever the mapping's huge-page advice, so a read
    /// of a few bytes keeps 2 MiB mapped; one page off, a fault maps the
    /// 64 KiB around it. The address range is reserved first
    /// (`PROT_NONE`), and what the file's mapping does not cover is given back.
    private static func mapOffHugePages(_ descriptor: FileDescriptor, count: Int) throws(Errno) -> UnsafeMutableRawPointer? {
        let huge = 2 << 20, length = count + 2 * huge
        guard let reserved = mmap(nil, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              reserved != MAP_FAILED else { throw Errno(rawValue: errno) }
        let start = (Int(bitPattern: reserved) + huge - 1) / huge * huge + pageSize
        let address = mmap(UnsafeMutableRawPointer(bitPattern: start), count, PROT_READ, MAP_SHARED | MAP_FIXED, descriptor.rawValue, 0)
        guard let address, address != MAP_FAILED else {
            let failure = Errno(rawValue: errno)
            munmap(reserved, length)
            throw failure
        }
        let end = (start + count + pageSize - 1) / pageSize * pageSize
        munmap(reserved, start - Int(bitPattern: reserved))
        munmap(UnsafeMutableRawPointer(bitPattern: end)!, Int(bitPattern: reserved) + length - end)
        return address
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// The big-endian 8-byte integer at `offset`.
    @inline(__always)
    func uint64BE(at offset: Int) -> UInt64 {
        precondition(offset >= 0 && offset + 8 <= count)
        return UInt64(bigEndian: base!.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// The big-endian 2-byte integer at `offset`.
    @inline(__always)
    func uint16BE(at offset: Int) -> UInt16 {
        precondition(offset >= 0 && offset + 2 <= count)
        return UInt16(bigEndian: base!.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always)
    func byte(at offset: Int) -> UInt8 {
        precondition(offset >= 0 && offset < count)
        return base!.load(fromByteOffset: offset, as: UInt8.self)
    }

    /// A copy of `length` bytes at `offset`.
    func bytes(at offset: Int, count length: Int) -> [UInt8] {
        precondition(offset >= 0 && length >= 0 && offset + length <= count)
        guard length > 0 else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: base! + offset, count: length))
    }

    /// Runs `body` on `length` mapped bytes at `offset`, without copying.
    func withBytes<R>(at offset: Int, count length: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        precondition(offset >= 0 && length >= 0 && offset + length <= count)
        return try body(UnsafeRawBufferPointer(start: length > 0 ? base! + offset : nil, count: length))
    }

    /// Which of the pages of `[offset, offset + length)` are in the page
    /// cache (`mincore`), one flag per page of `pageSize` bytes, starting at
    /// the page that holds `offset`. A stretch of ``residencyStep`` bytes
    /// with no page cached at all (`cachestat`) is not looked at page by
    /// page.
    func residentPages(at offset: Int, count length: Int) -> [Bool] {
        let page = Self.pageSize
        let start = offset / page * page
        let end = min(count, offset + length)
        guard end > start, let base else { return [] }
        var flags = [UInt8](repeating: 0, count: (end - start + page - 1) / page)
        var stepStart = start
        while stepStart < end {
            let stepEnd = min(end, stepStart + Self.residencyStep)
            if descriptor.cachedPageCount(offset: UInt64(stepStart), length: UInt64(stepEnd - stepStart)) != 0 {
                let result = flags.withUnsafeMutableBufferPointer { buffer in
                    mincore(UnsafeMutableRawPointer(mutating: base + stepStart), stepEnd - stepStart,
                            buffer.baseAddress! + (stepStart - start) / page)
                }
                guard result == 0 else { return [Bool](repeating: true, count: flags.count) }
            }
            stepStart = stepEnd
        }
        return flags.map { $0 & 1 != 0 }
    }

    static let residencyStep = 64 << 20

    /// Lets go of the mapped pages of `[offset, offset + length)`
    /// (`madvise(MADV_DONTNEED)`): they stop counting in this process's
    /// memory and stay in the page cache; touching them again maps them back.
    func forget(at offset: Int, count length: Int) {
        let page = Self.pageSize
        let start = offset / page * page
        let end = min(count, offset + length)
        guard end > start, let base else { return }
        madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }

    /// For a scan that lets go of what it read as it goes: once `end` is
    /// `step` bytes past `from`, unmaps `[from, end)` but for its last page
    /// (a record may still be read there) and moves `from` up.
    func forget(before end: UInt64, from: inout UInt64, step: UInt64) {
        guard end >= from + step else { return }
        let upTo = end - UInt64(Self.pageSize)
        forget(at: Int(from), count: Int(upTo - from))
        from = upTo
    }

    /// Drops `[offset, offset + length)` from the page cache
    /// (`posix_fadvise(POSIX_FADV_DONTNEED)`; pages still mapped somewhere,
    /// here included, stay), for data read once that nobody else wanted.
    func dropFromCache(at offset: Int, count length: Int) {
        forget(at: offset, count: length)
        #if os(Linux)
        _ = posix_fadvise(descriptor.rawValue, off_t(offset), off_t(length), POSIX_FADV_DONTNEED)
        #endif
    }

    /// Asks for transparent huge pages in this mapping (`MADV_HUGEPAGE`):
    /// a fault in it then reads the file into 2 MiB folios, as the kernel
    /// does for a sequential `read`, where `posix_fadvise(WILLNEED)` and
    /// plain faults use 4 KiB ones.
    func adviseHugePages() {
        guard let base else { return }
        madvise(UnsafeMutableRawPointer(mutating: base), count, MADV_HUGEPAGE)
    }

    /// Tells the kernel that faults in this mapping are random
    /// (`MADV_RANDOM`): a fault then reads only the folio it needs (2 MiB
    /// with ``adviseHugePages()``) and a fault on a cached folio marked for
    /// reading ahead does not start that read-ahead.
    func adviseRandomAccess() {
        guard let base else { return }
        madvise(UnsafeMutableRawPointer(mutating: base), count, MADV_RANDOM)
    }

    /// Faults in `[offset, offset + length)` (`MADV_POPULATE_READ`, Linux
    /// 5.14): reads what is not in the page cache, waiting for it. False
    /// when the kernel refused.
    @discardableResult
    func populate(at offset: Int, count length: Int) -> Bool {
        let page = Self.pageSize
        let start = offset / page * page
        let end = min(count, offset + length)
        guard end > start, let base else { return true }
        return madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, Self.populateRead) == 0
    }

    /// `MADV_POPULATE_READ`, which Swift's Glibc module may not export.
    private static let populateRead: Int32 = 22

    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
}
