import Storage

/// Page-aligned buffers for READ replies the bridge copies itself (see
/// `SpliceCapacity`), kept across requests: a fresh 1 MiB allocation per
/// reply costs an mmap, 256 page faults and an munmap.
final class ReplyBufferPool: Sendable {
    /// One buffer per worker thread is all that can be in use at once.
    private let capacity: Int
    /// Free buffers as (address, size); addresses as integers so the state is Sendable.
    private let free = Guarded<[(address: UInt, size: Int)]>([])

    init(capacity: Int) {
        self.capacity = capacity
    }

    deinit {
        free.withLock { buffers in
            for buffer in buffers { UnsafeMutableRawPointer(bitPattern: buffer.address)?.deallocate() }
        }
    }

    /// Runs `body` with a buffer of at least `size` bytes.
    func withBuffer<Result>(size: Int, _ body: (UnsafeMutableRawPointer) -> Result) -> Result {
        let needed = max(size, 1 << 20)
        var buffer = free.withLock { $0.popLast() }
        if let existing = buffer, existing.size < needed {
            UnsafeMutableRawPointer(bitPattern: existing.address)?.deallocate()
            buffer = nil
        }
        let taken = buffer ?? (UInt(bitPattern: UnsafeMutableRawPointer.allocate(byteCount: needed, alignment: 4096)), needed)
        defer {
            let kept = free.withLock { buffers in
                guard buffers.count < capacity else { return false }
                buffers.append(taken)
                return true
            }
            if !kept { UnsafeMutableRawPointer(bitPattern: taken.address)?.deallocate() }
        }
        // A freshly allocated or pooled address is never 0.
        return body(UnsafeMutableRawPointer(bitPattern: taken.address)!)
    }
}
