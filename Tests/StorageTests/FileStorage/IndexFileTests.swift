import Storage
import Testing

@Suite struct IndexFileTests {
    /// `fsIndex().save(pos, f)` for an empty index, from ZODB 6.4.
    @Test(arguments: [
        (0 as UInt64, "80034b002e80034e2e"),
        (255, "80034bff2e80034e2e"),
        (256, "80034d00012e80034e2e"),
        (65535, "80034dffff2e80034e2e"),
        (65536, "80034a000001002e80034e2e"),
        (2_147_483_647, "80034affffff7f2e80034e2e"),
        (2_147_483_648, "80038a0500000080002e80034e2e"),
        (1_099_511_627_781, "80038a060500000000012e80034e2e"),
        (281_474_976_710_655, "80038a07ffffffffffff002e80034e2e"),
    ])
    func positionEncodings(position: UInt64, hex: String) throws {
        let bytes = Samples.bytes(hex)
        #expect(try IndexFile.encoded(position: position, index: ObjectIndex()) == bytes)
        let directory = try TemporaryDirectory()
        let loaded = try IndexFile.load(path: try directory.write("x.index", bytes))
        #expect(loaded.position == position)
        #expect(loaded.index.isEmpty)
    }

    /// Buckets across prefixes, a `BINBYTES` bucket (40 entries), 40-bit positions.
    static let python = Samples.bytes(
        "80034a4e61bc002e80034306000000000000431800000001ffff0000000000040000000000c800000000012c862e8003",
        "43060000000000014308000000123456789a862e8003430600000000000242400100000000000100020003000400050006",
        "000700080009000a000b000c000d000e000f0010001100120013001400150016001700180019001a001b001c001d001e00",
        "1f002000210022002300240025002600270000000003e80000000003e90000000003ea0000000003eb0000000003ec0000",
        "000003ed0000000003ee0000000003ef0000000003f00000000003f10000000003f20000000003f30000000003f4000000",
        "0003f50000000003f60000000003f70000000003f80000000003f90000000003fa0000000003fb0000000003fc00000000",
        "03fd0000000003fe0000000003ff00000000040000000000040100000000040200000000040300000000040400000000040",
        "500000000040600000000040700000000040800000000040900000000040a00000000040b00000000040c00000000040d00",
        "000000040e00000000040f862e80034306000000010000430800000000000001f4862e80034e2e")

    static var pythonContent: [OID: UInt64] {
        var index: [OID: UInt64] = [OID(0): 4, OID(1): 200, OID(0xffff): 300, OID(0x10000): 0x12_3456_789a, OID(0x1_0000_0000): 500]
        for i in 0..<40 { index[OID(0x20000 + UInt64(i))] = 1000 + UInt64(i) }
        return index
    }

    @Test func readsAndWritesWhatPythonWrites() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("Data.fs.index", Self.python)
        let (position, index) = try IndexFile.load(path: path)
        #expect(position == 12_345_678)
        #expect(index.dictionary == Self.pythonContent)
        #expect(try IndexFile.encoded(position: position, index: index) == Self.python)

        try IndexFile.save(position: 12_345_678, index: Self.pythonContent, path: directory.path + "/out.index")
        #expect(try directory.read("out.index") == Self.python)
        #expect(try directory.names() == ["Data.fs.index", "out.index"])
    }

    @Test func theSmallSamplesIndexRoundTrips() throws {
        let directory = try TemporaryDirectory()
        let (position, index) = try IndexFile.load(path: try directory.write("Data.fs.index", Samples.smallIndex))
        #expect(position == 783)
        #expect(index.dictionary == [.root: 226, OID(1): 725])
        try IndexFile.save(position: position, index: index, path: directory.path + "/Data.fs.index")
        #expect(try directory.read("Data.fs.index") == Samples.smallIndex)
        #expect(!directory.exists("Data.fs.index.index_tmp"))
    }

    /// The same structure as ZODB on Python 2 wrote it: protocol 1, `U`
    /// strings, `(`…`t` tuples, memo puts.
    @Test func acceptsThePython2Form() throws {
        let bytes: [UInt8] =
            [0x4a, 0x0f, 0x03, 0x00, 0x00, 0x2e]
            + [0x28, 0x55, 0x06, 0, 0, 0, 0, 0, 0, 0x71, 0x01, 0x55, 0x10, 0, 0, 0, 1]
            + [0, 0, 0, 0, 0, 0xe2, 0, 0, 0, 0, 0x02, 0xd5, 0x71, 0x02, 0x74, 0x71, 0x03, 0x2e]
            + [0x4e, 0x2e]
        let directory = try TemporaryDirectory()
        let (position, index) = try IndexFile.load(path: try directory.write("py2.index", bytes))
        #expect(position == 783)
        #expect(index.dictionary == [.root: 226, OID(1): 725])
        // Text integers.
        let text = Array("I783\n.".utf8) + [0x4e, 0x2e]
        #expect(try IndexFile.load(path: try directory.write("text.index", text)).position == 783)
        let long = Array("L783L\n.".utf8) + [0x80, 0x02, 0x4e, 0x2e]
        #expect(try IndexFile.load(path: try directory.write("long.index", long)).position == 783)
    }

    @Test(arguments: [
        // The old single-pickle dict format: {'index': {}, 'pos': 4}.
        ("7d7100285805000000696e64657871017d71025803000000706f7371034b04752e", 0 as UInt64),
        ("", 0),  // empty
        ("80034d0f03", 5),  // no STOP
        ("80034d0f032e", 6),  // no terminating None
        ("80044d0f032e80034e2e", 1),  // protocol 4
        ("80034aff0000802e80034e2e", 2),  // negative
        ("80034d0f032e8003430500000000004300862e80034e2e", 8),  // 5-byte prefix
        ("80034d0f032e800343060000000000004303000000862e80034e2e", 16),  // bucket not a multiple of 8
        ("80034d0f032e80034306000000000000420000000100862e", 16),  // a 16 MiB bucket
        ("80034d0f032e80034306000000000000430800000000000000e24e2e", 26),  // not a tuple
        ("80034d0f032e800358010000007886", 8),  // a str, not bytes
    ])
    func rejectsAnythingElse(hex: String, offset: UInt64) throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("bad.index", Samples.bytes(hex))
        let error = storageError { try IndexFile.load(path: path) }
        #expect(error == .invalidIndexFile(path: path, offset: offset, reason: error.flatMap(\.reason) ?? ""))
        #expect(error?.errno == 5)
    }

    @Test func missingFile() throws {
        let directory = try TemporaryDirectory()
        #expect(storageError { try IndexFile.load(path: directory.path + "/none") } == .fileNotFound(path: directory.path + "/none"))
    }

    @Test func positionsBeyond48BitsCannotBeSaved() throws {
        let directory = try TemporaryDirectory()
        let error = storageError { try IndexFile.save(position: 4, index: [OID(1): 1 << 48], path: directory.path + "/x.index") }
        #expect(error?.errno == 5)
        #expect(try directory.names().isEmpty)
    }

    @Test func largeIndexRoundTrip() throws {
        var generator = SplitMix64(seed: 7)
        var content: [OID: UInt64] = [:]
        for i in 0..<200_000 { content[OID(UInt64(i) * 3)] = generator.next() >> 16 }
        for _ in 0..<5_000 { content[OID(generator.next() >> 20)] = generator.next() >> 16 }
        let directory = try TemporaryDirectory()
        try IndexFile.save(position: 1 << 40, index: content, path: directory.path + "/big.index")
        let (position, index) = try IndexFile.load(path: directory.path + "/big.index")
        #expect(position == 1 << 40)
        #expect(index.count == content.count)
        #expect(index.dictionary == content)
    }
}

extension StorageError {
    var reason: String? {
        switch self {
        case .invalidIndexFile(_, _, let reason), .corrupted(_, _, let reason), .fileReplaced(_, let reason): reason
        default: nil
        }
    }
}
