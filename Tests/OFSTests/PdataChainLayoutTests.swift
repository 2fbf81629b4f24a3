import OFS
import Storage
import Testing

/// `PdataChainLayout` cuts bodies as `File._read_data` does (`ZopeFileRecordsTests` checks the same
/// against Zope itself); here the boundaries and the invariants over many sizes.
@Suite struct PdataChainLayoutTests {
    static let n = UInt64(PdataChainLayout.chunkSize)

    static let boundaryCases: [(UInt64, [Int])] = [
        (0, []), (1, []), (65535, []),
        (65536, [65536]), (65537, [65537]), (131072, [131072]),
        (131073, [65537, 65536]), (196608, [65536, 65536, 65536]), (196609, [65537, 65536, 65536]),
        (200000, [68928, 65536, 65536]), (300001, [103393, 65536, 65536, 65536]),
    ]

    @Test(arguments: boundaryCases)
    func boundaries(size: UInt64, lengths: [Int]) {
        let layout = PdataChainLayout(size: size)
        #expect(layout.linkLengths == lengths)
        switch lengths.count {
        case 0: #expect(layout.storage == .inline)
        case 1: #expect(layout.storage == .singlePdata)
        default: #expect(layout.storage == .chain)
        }
    }

    @Test func invariantsOverManySizes() {
        var sizes: [UInt64] = Array(2 * Self.n - 3 ... 2 * Self.n + 3) + [1 << 30, (1 << 30) + 12345, 256 << 20]
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0 ..< 200 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            sizes.append(2 * Self.n + 1 + seed % (64 << 20))
        }
        for size in sizes {
            let layout = PdataChainLayout(size: size)
            let lengths = layout.linkLengths
            #expect(lengths.reduce(0) { $0 + UInt64($1) } == size)
            #expect(lengths.dropFirst().allSatisfy { $0 == PdataChainLayout.chunkSize })
            #expect(UInt64(lengths[0]) >= Self.n && UInt64(lengths[0]) < 2 * Self.n || lengths.count == 1)
            let offsets = layout.linkOffsets
            #expect(offsets.first == 0)
            for (index, offset) in offsets.enumerated() {
                #expect(layout.link(containing: offset) == index)
                #expect(layout.link(containing: offset + UInt64(lengths[index]) - 1) == index)
            }
            #expect(layout.link(containing: size) == nil)
        }
    }

    @Test func firstLinkGetsTheLastAllocatedOID() {
        let layout = PdataChainLayout(size: 200000)
        let oids = layout.oidsInFileOrder(allocated: [OID(0xF), OID(0x10), OID(0x11)])
        #expect(oids == [OID(0x11), OID(0x10), OID(0xF)])
        #expect(PdataChainLayout(size: 10).link(containing: 0) == nil)
    }

    @Test func pdataRecordFraming() {
        let single = PdataRecord(payloadLength: 70000, next: .absent)
        // `} q01 X'data' q02 B <70000>` with no MARK (one item: SETITEM), then `q03 s .`.
        #expect(Array(single.prefix.suffix(19)) == [0x7D, 0x71, 0x01, 0x58, 4, 0, 0, 0] + Array("data".utf8) + [0x71, 0x02, 0x42, 0x70, 0x11, 0x01, 0x00])
        #expect(single.suffix == [0x71, 0x03, 0x73, 0x2E])
        let last = PdataRecord(payloadLength: 65536, next: .none)
        #expect(last.suffix == [0x71, 0x03, 0x58, 4, 0, 0, 0] + Array("next".utf8) + [0x71, 0x04, 0x4E, 0x75, 0x2E])
        let small = PdataRecord(payloadLength: 3, next: .link(OID(5)))
        #expect(small.prefix.suffix(2) == [0x43, 0x03])
        #expect(small.recordLength == small.prefix.count + 3 + small.suffix.count)
        #expect(small.record(payload: [1, 2, 3]).count == small.recordLength)
    }
}
