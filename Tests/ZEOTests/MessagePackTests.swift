import Pickle
import Testing
@testable import ZEO

/// The msgpack subset a ZEO server started with `msgpack true` speaks,
/// checked against bytes Python's `msgpack.packb(..., use_bin_type=True)` writes.
struct MessagePackTests {
    @Test func decodesWhatPythonPacks() throws {
        // msgpack.packb((7, False, 'loadBefore', (b'\x00\x01', None, -3, 1.5, {'a': 300})), use_bin_type=True)
        let bytes: [UInt8] = [0x94, 0x07, 0xc2, 0xaa] + Array("loadBefore".utf8)
            + [0x95, 0xc4, 0x02, 0x00, 0x01, 0xc0, 0xfd, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x81, 0xa1, 0x61, 0xcd, 0x01, 0x2c]
        let value = try MessagePack.decode(bytes)
        #expect(value == .tuple([.int(7), .bool(false), .string("loadBefore"), .tuple([
            .bytes([0, 1]), .none, .int(-3), .float(1.5), .dict([PickleDictEntry(key: .string("a"), value: .int(300))]),
        ])]))
    }

    @Test func roundTrips() throws {
        let value = PickleValue.tuple([.int(1 << 40), .int(-100_000), .string(String(repeating: "x", count: 40)),
                                       .bytes(Array(repeating: 7, count: 70_000)), .bool(true), .none])
        #expect(try MessagePack.decode(MessagePack.encode(value)) == value)
    }

    @Test func malformedInputThrows() {
        for bytes: [UInt8] in [[0xc4], [0xdd, 0xff, 0xff, 0xff, 0xff], [0xc1], [0xa3, 0x61], [0x91]] {
            #expect(throws: MessagePack.DecodingError.self) { try MessagePack.decode(bytes) }
        }
    }
}
