import Pickle

/// The subset of MessagePack a ZEO server started with `msgpack true`
/// speaks (`ZEO/asyncio/marshal.py`: `packb(args, use_bin_type=True)`,
/// `unpackb(raw=False, use_list=False)`): nil, booleans, integers, floats,
/// `str` for text, `bin` for bytes, arrays (tuples on the Python side) and
/// maps. Values are the same `PickleValue` trees the pickle encoding
/// yields, so the client above does not care which encoding is in use.
enum MessagePack {
    struct DecodingError: Error, CustomStringConvertible {
        var offset: Int
        var reason: String
        var description: String { "msgpack at byte \(offset): \(reason)" }
    }

    // MARK: Encoding

    static func encode(_ value: PickleValue) throws(DecodingError) -> [UInt8] {
        var out: [UInt8] = []
        try append(value, to: &out)
        return out
    }

    private static func append(_ value: PickleValue, to out: inout [UInt8]) throws(DecodingError) {
        switch value {
        case .none: out.append(0xc0)
        case .bool(let flag): out.append(flag ? 0xc3 : 0xc2)
        case .int(let n):
            if n >= 0 && n < 128 { out.append(UInt8(n)) }
            else if n < 0 && n >= -32 { out.append(UInt8(bitPattern: Int8(n))) }
            else { out.append(0xd3); appendBigEndian(UInt64(bitPattern: n), bytes: 8, to: &out) }
        case .float(let d): out.append(0xcb); appendBigEndian(d.bitPattern, bytes: 8, to: &out)
        case .string(let text):
            let utf8 = Array(text.utf8)
            if utf8.count < 32 { out.append(0xa0 | UInt8(utf8.count)) }
            else { out.append(0xdb); appendBigEndian(UInt64(utf8.count), bytes: 4, to: &out) }
            out += utf8
        case .bytes(let bytes):
            out.append(0xc6); appendBigEndian(UInt64(bytes.count), bytes: 4, to: &out)
            out += bytes
        case .tuple(let items), .list(let items):
            out.append(0xdd); appendBigEndian(UInt64(items.count), bytes: 4, to: &out)
            for item in items { try append(item, to: &out) }
        case .dict(let entries):
            out.append(0xdf); appendBigEndian(UInt64(entries.count), bytes: 4, to: &out)
            for entry in entries {
                try append(entry.key, to: &out)
                try append(entry.value, to: &out)
            }
        default:
            throw DecodingError(offset: out.count, reason: "no msgpack form for \(value)")
        }
    }

    private static func appendBigEndian(_ value: UInt64, bytes: Int, to out: inout [UInt8]) {
        for shift in stride(from: (bytes - 1) * 8, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    // MARK: Decoding

    static func decode(_ bytes: [UInt8]) throws(DecodingError) -> PickleValue {
        var reader = Reader(bytes: bytes)
        let value = try reader.value(depth: 0)
        guard reader.offset == bytes.count else { throw DecodingError(offset: reader.offset, reason: "trailing bytes") }
        return value
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func take(_ n: Int) throws(DecodingError) -> ArraySlice<UInt8> {
            guard n >= 0, bytes.count - offset >= n else { throw DecodingError(offset: offset, reason: "truncated") }
            defer { offset += n }
            return bytes[offset..<offset + n]
        }

        mutating func unsigned(_ n: Int) throws(DecodingError) -> UInt64 {
            try take(n).reduce(0) { $0 << 8 | UInt64($1) }
        }

        mutating func count(_ n: Int) throws(DecodingError) -> Int {
            let value = try unsigned(n)
            // Every element takes at least one byte: a count beyond what is
            // left is a lie, refused before anything is reserved for it.
            guard value <= UInt64(bytes.count - offset) else { throw DecodingError(offset: offset, reason: "count \(value) beyond the message") }
            return Int(value)
        }

        mutating func value(depth: Int) throws(DecodingError) -> PickleValue {
            guard depth < PickleDecoder.maximumNestingDepth else { throw DecodingError(offset: offset, reason: "nested too deeply") }
            let start = offset
            let tag = try take(1).first!
            switch tag {
            case 0x00...0x7f: return .int(Int64(tag))
            case 0xe0...0xff: return .int(Int64(Int8(bitPattern: tag)))
            case 0x80...0x8f: return try map(Int(tag & 0x0f), depth: depth)
            case 0x90...0x9f: return try array(Int(tag & 0x0f), depth: depth)
            case 0xa0...0xbf: return try text(Int(tag & 0x1f))
            case 0xc0: return .none
            case 0xc2: return .bool(false)
            case 0xc3: return .bool(true)
            case 0xc4: return .bytes(Array(try take(count(1))))
            case 0xc5: return .bytes(Array(try take(count(2))))
            case 0xc6: return .bytes(Array(try take(count(4))))
            case 0xca: return .float(Double(Float(bitPattern: UInt32(try unsigned(4)))))
            case 0xcb: return .float(Double(bitPattern: try unsigned(8)))
            case 0xcc: return .int(Int64(try unsigned(1)))
            case 0xcd: return .int(Int64(try unsigned(2)))
            case 0xce: return .int(Int64(try unsigned(4)))
            case 0xcf:
                let n = try unsigned(8)
                guard n <= UInt64(Int64.max) else { throw DecodingError(offset: start, reason: "integer beyond 63 bits") }
                return .int(Int64(n))
            case 0xd0: return .int(Int64(Int8(truncatingIfNeeded: try unsigned(1))))
            case 0xd1: return .int(Int64(Int16(truncatingIfNeeded: try unsigned(2))))
            case 0xd2: return .int(Int64(Int32(truncatingIfNeeded: try unsigned(4))))
            case 0xd3: return .int(Int64(bitPattern: try unsigned(8)))
            case 0xd9: return try text(count(1))
            case 0xda: return try text(count(2))
            case 0xdb: return try text(count(4))
            case 0xdc: return try array(count(2), depth: depth)
            case 0xdd: return try array(count(4), depth: depth)
            case 0xde: return try map(count(2), depth: depth)
            case 0xdf: return try map(count(4), depth: depth)
            default: throw DecodingError(offset: start, reason: String(format: "unsupported type 0x%02x", tag))
            }
        }

        mutating func text(_ n: Int) throws(DecodingError) -> PickleValue {
            let start = offset
            guard let text = String(validating: try take(n), as: UTF8.self) else {
                throw DecodingError(offset: start, reason: "str that is not UTF-8")
            }
            return .string(text)
        }

        mutating func array(_ n: Int, depth: Int) throws(DecodingError) -> PickleValue {
            var items: [PickleValue] = []
            for _ in 0..<n { items.append(try value(depth: depth + 1)) }
            return .tuple(items)
        }

        mutating func map(_ n: Int, depth: Int) throws(DecodingError) -> PickleValue {
            var entries: [PickleDictEntry] = []
            for _ in 0..<n {
                let key = try value(depth: depth + 1)
                entries.append(PickleDictEntry(key: key, value: try value(depth: depth + 1)))
            }
            return .dict(entries)
        }
    }
}
