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

    func decode(_ bytes: [UInt8]) throws -> ZEOMessage {
        let value: PickleValue
        switch self {
        case .pickle:
            var decoder = PickleDecoder(bytes: bytes)
            value = try decoder.decodeNext()
        case .msgpack:
            value = try MessagePack.decode(bytes)
        }
        guard case .tuple(let parts) = value, parts.count == 4,
              let id = parts[0].intValue, let name = parts[2].stringValue else {
            throw ZEOProtocolError.badMessage("not a (msgid, flags, name, args) tuple")
        }
        let flags = parts[1].boolValue.map { $0 ? Int64(1) : 0 } ?? parts[1].intValue ?? 0
        return ZEOMessage(id: id, flags: flags, name: name, arguments: parts[3])
    }
}
