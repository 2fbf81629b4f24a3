import NIOCore
import Pickle

/// One ZEO message after the handshake (`ZEO/asyncio/base.py`): the tuple
/// `(msgid, flags, name, args)`. A call from the client has `flags` False
/// (it waits for a reply) or True (asynchronous); a reply is named
/// `.reply` with flags 0, or 2 when `args` is an error
/// `(class name, attributes)`; the server's own calls
/// (`invalidateTransaction`, `info`) are asynchronous with msgid 0.
struct ZEOMessage: Sendable {
    var id: Int64
    var flags: Int64
    var name: String
    var arguments: PickleValue

    static let replyName = ".reply"
    static let errorFlag: Int64 = 2

    var isReply: Bool { name == Self.replyName }
    var isError: Bool { isReply && flags == Self.errorFlag }
}

/// How messages are encoded, fixed by the first byte of the server's
/// protocol version: `Z` for pickle protocol 3 (zodbpickle's `Pickler`
/// with `fast = 1`), `M` for msgpack.
enum MessageEncoding: Sendable, Equatable {
    case pickle
    case msgpack

    init?(handshake: [UInt8]) {
        switch handshake.first {
        case UInt8(ascii: "Z"): self = .pickle
        case UInt8(ascii: "M"): self = .msgpack
        default: return nil
        }
    }

    var letter: UInt8 { self == .pickle ? UInt8(ascii: "Z") : UInt8(ascii: "M") }

    /// A call: `(msgid, async, method, args)`.
    func encodeCall(id: Int64, asynchronous: Bool, method: String, arguments: [PickleValue]) throws -> [UInt8] {
        let message = PickleValue.tuple([.int(id), .bool(asynchronous), .string(method), .tuple(arguments)])
        switch self {
        case .pickle:
            var encoder = PickleEncoder()
            try encoder.encode(message)
            return encoder.bytes
        case .msgpack:
            return try MessagePack.encode(message)
        }
    }

    /// A message straight from the receive buffer.
    ///
    /// A large pickled message — a `loadBefore` reply carrying a 64 KiB
    /// `Pdata` record, the bulk of a big file's read — is decoded from its
    /// first and last `edge` bytes only, its large `bytes` left in place
    /// (`.byteRange`) and then copied once, from the buffer into the value,
    /// rather than copying the whole message out first and the payload out
    /// of that again. A message whose structure reaches into the middle (a
    /// long list of oids) is decoded whole instead.
    func decode(_ buffer: ByteBuffer) throws -> ZEOMessage {
        let total = buffer.readableBytes
        let start = buffer.readerIndex
        let edge = 4096
        if self == .pickle, total > 4 * edge {
            let input = PickleInput(head: buffer.getBytes(at: start, length: edge) ?? [],
                                    tail: buffer.getBytes(at: start + total - edge, length: edge) ?? [], totalLength: total)
            var decoder = PickleDecoder(input, largeBytesThreshold: edge)
            if let value = try? decoder.decodeNext(),
               let resolved = Self.resolvingByteRanges(value, { buffer.getBytes(at: start + $0, length: $1) }) {
                return try message(resolved)
            }
        }
        return try decode(buffer.getBytes(at: start, length: total) ?? [])
    }

    /// `value` with each `.byteRange` in its tuples and lists replaced by
    /// the bytes `read` gives; nil when it holds other containers.
    private static func resolvingByteRanges(_ value: PickleValue, _ read: (Int, Int) -> [UInt8]?) -> PickleValue? {
        switch value {
        case .byteRange(let offset, let length): return read(offset, length).map { .bytes($0) }
        case .tuple(let items), .list(let items):
            var resolved: [PickleValue] = []
            resolved.reserveCapacity(items.count)
            for item in items {
                guard let r = resolvingByteRanges(item, read) else { return nil }
                resolved.append(r)
            }
            if case .tuple = value { return .tuple(resolved) }
            return .list(resolved)
        case .none, .bool, .int, .bigInt, .float, .string, .bytes, .global: return value
        // Not in the messages this is for; such a message is decoded whole.
        case .dict, .set, .frozenSet, .persistentID, .object: return nil
        }
    }

    func decode(_ bytes: [UInt8]) throws -> ZEOMessage {
        let value: PickleValue
        switch self {
        case .pickle:
            var decoder = PickleDecoder(bytes: bytes)
            value = try decoder.decodeNext()
        case .msgpack:
            value = try MessagePack.decode(bytes)
        }
        return try message(value)
    }

    private func message(_ value: PickleValue) throws -> ZEOMessage {
        guard case .tuple(let parts) = value, parts.count == 4,
              let id = parts[0].intValue, let name = parts[2].stringValue else {
            throw ZEOProtocolError.badMessage("not a (msgid, flags, name, args) tuple")
        }
        let flags = parts[1].boolValue.map { $0 ? Int64(1) : 0 } ?? parts[1].intValue ?? 0
        return ZEOMessage(id: id, flags: flags, name: name, arguments: parts[3])
    }
}
