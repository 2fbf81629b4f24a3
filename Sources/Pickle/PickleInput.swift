/// The bytes a decoder reads: usually a whole record, or only its head and tail.
///
/// A Zope `Pdata` record is 64 KiB or more of `BINBYTES` payload between a few dozen bytes of
/// pickle on either side. To list or stat a file the object layer needs the small parts (the
/// `next` reference sits after the payload) but not the payload, so a caller may read just
/// `[0, head.count)` and `[totalLength - tail.count, totalLength)` from disk. Together with the
/// decoder's `largeBytesThreshold`, the payload then decodes to a `.byteRange` without being read.
/// Asking for any byte in the missing middle throws `.unavailable`.
public struct PickleInput: Sendable {
    /// Bytes `[0, head.count)`.
    let head: [UInt8]
    /// Bytes `[tailStart, count)`; empty when the whole input is in `head`.
    let tail: [UInt8]
    let tailStart: Int
    /// The length of the whole pickle input, including any missing middle.
    public let count: Int

    public init(_ bytes: [UInt8]) {
        head = bytes
        tail = []
        tailStart = bytes.count
        count = bytes.count
    }

    /// - Parameters:
    ///   - head: the first `head.count` bytes of the input.
    ///   - tail: the last `tail.count` bytes of the input.
    ///   - totalLength: the length of the whole input. If `head` and `tail` meet or overlap, the
    ///     input is complete and is joined into one buffer.
    public init(head: [UInt8], tail: [UInt8], totalLength: Int) {
        precondition(head.count <= totalLength && tail.count <= totalLength,
                     "head and tail must lie within totalLength")
        let tailStart = totalLength - tail.count
        if head.count >= tailStart {
            self.head = head + tail[(head.count - tailStart)...]
            self.tail = []
            self.tailStart = totalLength
        } else {
            self.head = head
            self.tail = tail
            self.tailStart = tailStart
        }
        count = totalLength
    }

    /// Bytes remaining from `offset` to the end of the input, available or not.
    @inline(__always)
    func remaining(from offset: Int) -> Int { count - offset }

    @inline(__always)
    func byte(at offset: Int) throws(PickleError) -> UInt8 {
        if offset < head.count { return head[offset] }
        return try tailByte(at: offset)
    }

    private func tailByte(at offset: Int) throws(PickleError) -> UInt8 {
        guard offset < count else { throw PickleError(.truncated, at: offset) }
        guard offset >= tailStart else { throw PickleError(.unavailable, at: offset) }
        return tail[offset - tailStart]
    }

    /// `length` bytes from `offset`, as a slice of whichever part holds them (no copy).
    func bytes(at offset: Int, count length: Int) throws(PickleError) -> ArraySlice<UInt8> {
        guard length <= count - offset else { throw PickleError(.truncated, at: offset) }
        let end = offset + length
        if end <= head.count { return head[offset ..< end] }
        if offset >= tailStart { return tail[(offset - tailStart) ..< (end - tailStart)] }
        throw PickleError(.unavailable, at: max(offset, head.count))
    }

    /// A little-endian unsigned integer of `width` (≤ 8) bytes at `offset`.
    @inline(__always)
    func littleEndian(at offset: Int, width: Int) throws(PickleError) -> UInt64 {
        let end = offset + width
        if end <= head.count {
            var value: UInt64 = 0
            var index = end
            while index > offset {
                index -= 1
                value = value << 8 | UInt64(head[index])
            }
            return value
        }
        let slice = try bytes(at: offset, count: width)
        var value: UInt64 = 0
        for byte in slice.reversed() { value = value << 8 | UInt64(byte) }
        return value
    }

    /// The text operand starting at `offset` (protocol 0 opcodes, `GLOBAL`, `INST`): the bytes up to,
    /// not including, the next `\n`, and the offset just past that newline.
    func line(at offset: Int) throws(PickleError) -> (text: ArraySlice<UInt8>, next: Int) {
        let newline = UInt8(ascii: "\n")
        if offset < head.count {
            if let end = head[offset...].firstIndex(of: newline) {
                return (head[offset ..< end], end + 1)
            }
            // A line may not run from the head into the gap.
            if head.count < tailStart { throw PickleError(.unavailable, at: head.count) }
            throw PickleError(.truncated, at: offset)
        }
        guard offset < count else { throw PickleError(.truncated, at: offset) }
        guard offset >= tailStart else { throw PickleError(.unavailable, at: offset) }
        let local = offset - tailStart
        guard let end = tail[local...].firstIndex(of: newline) else {
            throw PickleError(.truncated, at: offset)
        }
        return (tail[local ..< end], end + tailStart + 1)
    }
}
