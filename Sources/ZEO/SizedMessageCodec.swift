import NIOCore

/// ZEO's framing (`ZEO/asyncio/smp.py`): every message is a 4-byte
/// big-endian length followed by that many bytes. The first message each
/// side sends is the protocol version (`Z5`, or `M5` for msgpack), the rest
/// are encoded calls and replies.
struct SizedMessageDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    /// A bound on one message, so a garbled length cannot make the client
    /// wait for (or allocate) gigabytes: ZEO messages carry one record each,
    /// and ZODB records stay far below this.
    static let maximumLength = 1 << 30

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else {
            return .needMoreData
        }
        guard Int(length) <= Self.maximumLength else { throw ZEOProtocolError.messageTooLong(Int(length)) }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }
}

struct SizedMessageEncoder: MessageToByteEncoder {
    typealias OutboundIn = [UInt8]

    func encode(data: [UInt8], out: inout ByteBuffer) throws {
        out.writeInteger(UInt32(data.count), endianness: .big)
        out.writeBytes(data)
    }
}

/// The server broke the protocol: the connection is dropped and made again.
enum ZEOProtocolError: Error, CustomStringConvertible {
    case messageTooLong(Int)
    case badHandshake([UInt8])
    case badMessage(String)

    var description: String {
        switch self {
        case .messageTooLong(let n): "a message of \(n) bytes"
        case .badHandshake(let bytes): "an unknown protocol version \(String(decoding: bytes.prefix(16), as: UTF8.self).debugDescription)"
        case .badMessage(let reason): "a malformed message: \(reason)"
        }
    }
}
