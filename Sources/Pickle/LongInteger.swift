/// Python's unbounded `int` in the two forms pickles carry it.
///
/// `LONG1`/`LONG4` hold little-endian two's-complement bytes (`pickle.encode_long`); protocol 0's
/// `INT`/`LONG` hold decimal text. Values that fit 64 bits become `.int`; the rest keep their
/// two's-complement bytes as `.bigInt`, which is the only lossless form that needs no bignum type.
enum LongInteger {
    /// Python's default `sys.int_info.default_max_str_digits`: `int()` refuses longer decimal text,
    /// and so do we, which also keeps the quadratic decimal conversion bounded.
    static let maximumDecimalDigits = 4300

    /// The value of `LONG1`/`LONG4` bytes.
    static func value(twosComplement bytes: ArraySlice<UInt8>) -> PickleValue {
        guard let last = bytes.last else { return .int(0) }
        let isNegative = last & 0x80 != 0
        let start = bytes.startIndex
        if bytes.count > 8 {
            // Wider than 8 bytes still fits if the extra bytes only repeat the sign of byte 7.
            let fill: UInt8 = isNegative ? 0xFF : 0x00
            let fits = bytes[(start + 8)...].allSatisfy { $0 == fill }
                && (bytes[start + 7] & 0x80 != 0) == isNegative
            guard fits else { return .bigInt(Array(bytes)) }
        }
        let width = min(bytes.count, 8)
        var pattern: UInt64 = 0
        for index in 0 ..< width {
            pattern |= UInt64(bytes[start + index]) << (8 * index)
        }
        if isNegative && width < 8 { pattern |= ~0 << (8 * width) }
        return .int(Int64(bitPattern: pattern))
    }

    /// The value of decimal text with an optional sign, as `INT` and `LONG` carry it; nil if the
    /// text is not such a number or is longer than Python would accept.
    static func value(decimal text: ArraySlice<UInt8>) -> PickleValue? {
        var digits = text[...]
        var isNegative = false
        if let sign = digits.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
            isNegative = sign == UInt8(ascii: "-")
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.count <= maximumDecimalDigits,
              digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }

        var magnitude: UInt64 = 0
        var overflowed = false
        for digit in digits {
            let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
            if o1 || o2 { overflowed = true; break }
            magnitude = sum
        }
        if !overflowed {
            if !isNegative, magnitude <= UInt64(Int64.max) { return .int(Int64(magnitude)) }
            if isNegative, magnitude <= UInt64(Int64.max) + 1 {
                return .int(Int64(bitPattern: 0 &- magnitude))
            }
        }
        return .bigInt(twosComplement(magnitude: decimalMagnitude(digits), isNegative: isNegative))
    }

    /// Little-endian magnitude bytes of a run of ASCII digits, without high zero bytes.
    private static func decimalMagnitude(_ digits: ArraySlice<UInt8>) -> [UInt8] {
        // Base 10⁹ chunks into 32-bit limbs: one multiply-add pass over the limbs per chunk.
        var limbs: [UInt32] = []
        var index = digits.startIndex
        let firstChunk = digits.count % 9 == 0 ? 9 : digits.count % 9
        var chunkLength = firstChunk
        while index < digits.endIndex {
            var chunk: UInt64 = 0
            var multiplier: UInt64 = 1
            for digit in digits[index ..< index + chunkLength] {
                chunk = chunk * 10 + UInt64(digit - UInt8(ascii: "0"))
                multiplier *= 10
            }
            var carry = chunk
            for limb in limbs.indices {
                let product = UInt64(limbs[limb]) * multiplier + carry
                limbs[limb] = UInt32(truncatingIfNeeded: product)
                carry = product >> 32
            }
            if carry != 0 { limbs.append(UInt32(carry)) }
            index += chunkLength
            chunkLength = 9
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(limbs.count * 4)
        for limb in limbs {
            for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: limb >> shift)) }
        }
        while bytes.last == 0 { bytes.removeLast() }
        return bytes
    }

    /// The shortest two's-complement bytes of ±magnitude, the way `pickle.encode_long` writes them.
    static func twosComplement(magnitude: [UInt8], isNegative: Bool) -> [UInt8] {
        guard !magnitude.isEmpty else { return [] }
        var bytes = magnitude
        if !isNegative {
            if bytes[bytes.count - 1] & 0x80 != 0 { bytes.append(0) }
            return bytes
        }
        var carry = true
        for index in bytes.indices {
            let inverted = ~bytes[index]
            bytes[index] = carry ? inverted &+ 1 : inverted
            carry = carry && inverted == 0xFF
        }
        if bytes[bytes.count - 1] & 0x80 == 0 { bytes.append(0xFF) }
        while bytes.count > 1, bytes[bytes.count - 1] == 0xFF, bytes[bytes.count - 2] & 0x80 != 0 {
            bytes.removeLast()
        }
        return bytes
    }
}
