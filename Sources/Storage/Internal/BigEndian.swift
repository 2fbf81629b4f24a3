// Every integer in a FileStorage is big-endian and unsigned (§1 of the format
// notes); the `.index` pickles use little-endian lengths. These helpers read
// and write both from plain byte arrays, with bounds checked by the caller.

extension Array where Element == UInt8 {
    /// The big-endian `UInt64` at `index ..< index + 8`.
    @inline(__always)
    func uint64BE(at index: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in index..<(index + 8) { value = value << 8 | UInt64(self[i]) }
        return value
    }

    /// The big-endian `UInt16` at `index ..< index + 2`.
    @inline(__always)
    func uint16BE(at index: Int) -> UInt16 {
        UInt16(self[index]) << 8 | UInt16(self[index + 1])
    }

    /// Appends `value` as 8 big-endian bytes.
    @inline(__always)
    mutating func appendBE(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    /// Appends `value` as 2 big-endian bytes.
    @inline(__always)
    mutating func appendBE(_ value: UInt16) {
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }

    /// Appends the low `count` bytes of `value`, least significant first.
    @inline(__always)
    mutating func appendLE(_ value: UInt64, count: Int) {
        for i in 0..<count { append(UInt8(truncatingIfNeeded: value >> UInt64(8 * i))) }
    }

    /// The unsigned little-endian integer of `count` (≤ 8) bytes at `index`.
    @inline(__always)
    func uintLE(at index: Int, count: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in stride(from: count - 1, through: 0, by: -1) { value = value << 8 | UInt64(self[index + i]) }
        return value
    }
}

extension UInt64 {
    /// `self + other`, or nil when that does not fit: positions read from a
    /// damaged file can be anything, and must never trap.
    @inline(__always)
    func adding(_ other: UInt64) -> UInt64? {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? nil : sum
    }
}
