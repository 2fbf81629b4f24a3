import NIOCore
import Pickle
import Testing
@testable import ZEO

/// Decoding a message from the receive buffer: a large one is read from its
/// first and last bytes with its big payload copied out once; whatever the
/// shape, the result is what decoding the whole message gives.
struct ZEOMessageTests {
    static func pickled(_ value: PickleValue) throws -> [UInt8] {
        var encoder = PickleEncoder()
        try encoder.encode(value)
        return encoder.bytes
    }

    static func reply(_ arguments: PickleValue) -> PickleValue {
        .tuple([.int(42), .int(0), .string(ZEOMessage.replyName), arguments])
    }

    @Test(arguments: [
        // A loadBefore reply with a Pdata record: decoded from head and tail.
        reply(.tuple([.bytes((0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }), .bytes([0, 0, 0, 0, 0, 0, 1, 2]), .none])),
        // Two large payloads and a small one between them in the gap: decoded whole.
        reply(.tuple([.bytes(Array(repeating: 1, count: 20_000)), .bytes([9, 9]), .bytes(Array(repeating: 2, count: 20_000))])),
        // Thousands of oids (an invalidation): the middle is structure, decoded whole.
        .tuple([.int(0), .bool(true), .string("invalidateTransaction"),
                .tuple([.bytes(Array(repeating: 0, count: 8)), .list((0..<5_000).map { .bytes([0, 0, 0, 0, 0, 0, UInt8($0 >> 8), UInt8($0 & 255)]) })])]),
        // A dict around a large payload: decoded whole.
        reply(.dict([PickleDictEntry(key: .string("data"), value: .bytes(Array(repeating: 3, count: 40_000)))])),
    ])
    func bufferDecodesAsTheWholeMessage(value: PickleValue) throws {
        let bytes = try Self.pickled(value)
        var buffer = ByteBufferAllocator().buffer(capacity: bytes.count + 16)
        buffer.writeBytes([1, 2, 3])
        buffer.writeBytes(bytes)
        buffer.moveReaderIndex(forwardBy: 3)
        let fromBuffer = try MessageEncoding.pickle.decode(buffer)
        let whole = try MessageEncoding.pickle.decode(bytes)
        #expect(fromBuffer.id == whole.id && fromBuffer.flags == whole.flags && fromBuffer.name == whole.name)
        #expect(fromBuffer.arguments == whole.arguments)
        guard case .tuple(let parts) = value else { return }
        #expect(fromBuffer.arguments == parts[3])
    }
}
