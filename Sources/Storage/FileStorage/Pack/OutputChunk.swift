/// A stretch of the packed file on its way to the disk: memory aligned for
/// direct I/O (``directIOAlignment``), filled front to back, with the file
/// offset of its first byte.
///
/// `@unchecked Sendable`: a chunk has one owner at a time — the
/// ``PackWriter`` filling it, then the ``DirectOutput`` writer writing it,
/// which hands it back empty.
final class OutputChunk: @unchecked Sendable {
    let capacity: Int
    private let base: UnsafeMutableRawPointer
    private(set) var count = 0
    /// Where byte 0 goes in the file.
    private(set) var offset: UInt64

    init(capacity: Int, offset: UInt64) {
        self.capacity = capacity
        self.offset = offset
        base = .allocate(byteCount: capacity, alignment: directIOAlignment)
    }

    deinit { base.deallocate() }

    var room: Int { capacity - count }
    var isFull: Bool { count == capacity }
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Appends `bytes`, which must fit.
    func append(_ bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count <= room)
        if let source = bytes.baseAddress { (base + count).copyMemory(from: source, byteCount: bytes.count) }
        count += bytes.count
    }

    func append(_ bytes: ArraySlice<UInt8>) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Replaces bytes already appended, from `index` on.
    func overwrite(at index: Int, with bytes: ArraySlice<UInt8>) {
        precondition(index >= 0 && index + bytes.count <= count)
        bytes.withUnsafeBytes { source in
            if let from = source.baseAddress { (base + index).copyMemory(from: from, byteCount: source.count) }
        }
    }

    /// Empties the chunk for the stretch of the file at `offset`.
    func reset(offset: UInt64) {
        self.offset = offset
        count = 0
    }
}
