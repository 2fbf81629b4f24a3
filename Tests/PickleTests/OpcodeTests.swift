import Pickle
import Testing

/// One test per opcode group. Vectors come from CPython 3.11's `pickle` (the expression that made
/// each is quoted) or are written by hand and checked with `pickle.loads`/`zodbpickle.loads`.
@Suite struct OpcodeTests {
    @Test func integersAndFloatsInProtocol2() throws {
        // pickle.dumps([None, True, False, 0, 1, 255, 256, 65535, 65536, -1, -2**31, 2**31-1, 2**31,
        //               2**63-1, -2**63, 2**63, -2**63-1, 2**100, -(2**100), 1.5, -0.0], protocol=2)
        let value = try decodeOne(hex("""
            80025d7100284e88894b004b014bff4d00014dffff4a000001004affffffff4a000000804affffff7f8a050000008000
            8a08ffffffffffffff7f8a0800000000000000808a090000000000000080008a09ffffffffffffff7fff8a0d00000000
            0000000000000000108a0d000000000000000000000000f0473ff8000000000000478000000000000000652e
            """))
        #expect(value == .list([
            .none, .bool(true), .bool(false), .int(0), .int(1), .int(255), .int(256), .int(65535),
            .int(65536), .int(-1), .int(-2_147_483_648), .int(2_147_483_647), .int(2_147_483_648),
            .int(.max), .int(.min),
            .bigInt(hex("000000000000008000")), .bigInt(hex("ffffffffffffff7fff")),
            .bigInt(hex("00000000000000000000000010")), .bigInt(hex("000000000000000000000000f0")),
            .float(1.5), .float(-0.0),
        ]))
        guard case .float(let negativeZero) = value.tupleElements?.last else { Issue.record(); return }
        #expect(negativeZero.sign == .minus)
    }

    @Test func long4() throws {
        // pickle.dumps(2**2100, protocol=2): LONG4 with 263 bytes.
        let bytes = hex("80028b07010000") + [UInt8](repeating: 0, count: 262) + hex("102e")
        #expect(try decodeOne(bytes) == .bigInt([UInt8](repeating: 0, count: 262) + [0x10]))
    }

    @Test func textScalarsInProtocol0() throws {
        // pickle.dumps([None, True, False, 5, -7, 2**70, -2**70, 1.25], protocol=0)
        let value = try decodeOne(hex("""
            286c70300a4e614930310a614930300a6149350a61492d370a614c313138303539313632303731373431313330333432
            344c0a614c2d313138303539313632303731373431313330333432344c0a6146312e32350a612e
            """))
        #expect(value == .list([
            .none, .bool(true), .bool(false), .int(5), .int(-7),
            .bigInt(hex("000000000000000040")), .bigInt(hex("0000000000000000c0")), .float(1.25),
        ]))
        // pickle.dumps([0.1, 1e300, float('inf'), float('-inf')], protocol=0)
        let floats = try decodeOne(hex("286c70300a46302e310a614631652b3330300a6146696e660a61462d696e660a612e"))
        #expect(floats == .list([.float(0.1), .float(1e300), .float(.infinity), .float(-.infinity)]))
    }

    @Test(arguments: [
        // pickle.loads(b'I9223372036854775807\n.') == 2**63 - 1, and so on.
        ("I9223372036854775807\n.", PickleValue.int(.max)),
        ("I-9223372036854775808\n.", .int(.min)),
        ("I9223372036854775808\n.", .bigInt(hex("000000000000008000"))),
        ("L-9223372036854775809L\n.", .bigInt(hex("ffffffffffffff7fff"))),
        ("L0L\n.", .int(0)),
        ("I+12\n.", .int(12)),
    ])
    func decimalIntegerEdges(text: String, expected: PickleValue) throws {
        #expect(try decodeOne(Array(text.utf8)) == expected)
    }

    @Test func unicodeInProtocol0() throws {
        // pickle.dumps(['abc', 'é\n\\ü€\U0001f600'], protocol=0): raw-unicode-escape with \u and \U.
        let value = try decodeOne(hex("""
            286c70300a566162630a70310a6156e95c75303030615c7530303563fc5c75323061635c5530303031663630300a7032
            0a612e
            """))
        #expect(value == .list([.string("abc"), .string("é\n\\ü€\u{1F600}")]))
    }

    @Test func rawUnicodeEscapeBackslashRuns() throws {
        // pickle.loads(b'V\\\\u0041\\u0042\n.') == '\\\\u0041B': an even run is literal.
        #expect(try decodeOne(Array("V\\\\u0041\\u0042\n.".utf8)) == .string("\\\\u0041B"))
    }

    @Test func stringEscapes() throws {
        // zodbpickle.pickle.loads(b"S'\\101\\q\\x41'\n.", errors='bytes') == 'A\\qA': octal, an unknown
        // escape kept as written, and hex.
        #expect(try decodeOne(hex("53275c3130315c715c783431270a2e")) == .string("A\\qA"))
        // pickle.loads(b'V\\ud83d\\ude00|\\ud800\n.') is '\ud83d\ude00|\ud800' in Python; a Swift string
        // cannot hold surrogates, so the pair is joined and the lone one replaced.
        #expect(try decodeOne(hex("565c75643833645c75646530307c5c75643830300a2e")) == .string("\u{1F600}|\u{FFFD}"))
    }

    @Test func python2Strings() throws {
        // zodbpickle.pickle.loads(b, encoding='ASCII', errors='bytes') == ["a\nbA'c", b'\xff\x01', 'q']
        // for b = b"(S'a\\nb\\x41\\'c'\nS'\\xff\\001'\nS\"q\"\nl."
        let quoted = try decodeOne(hex("285327615c6e625c7834315c2763270a53275c7866665c303031270a532271220a6c2e"))
        #expect(quoted == .list([.string("a\nbA'c"), .bytes([0xFF, 0x01]), .string("q")]))
        // b"(T\x03\x00\x00\x00abcU\x02\xff\xfel." -> ['abc', b'\xff\xfe']
        let binary = try decodeOne(hex("2854030000006162635502fffe6c2e"))
        #expect(binary == .list([.string("abc"), .bytes([0xFF, 0xFE])]))
    }

    @Test func bytesInProtocol3() throws {
        // pickle.dumps([b'', b'abc', bytes(300)], protocol=3)
        let bytes = hex("80035d7100284300710143036162637102422c010000")
            + [UInt8](repeating: 0, count: 300) + hex("7103652e")
        #expect(try decodeOne(bytes) == .list([.bytes([]), .bytes(Array("abc".utf8)), .bytes(Array(repeating: 0, count: 300))]))
    }

    @Test func protocol4FramesSetsAndMemoize() throws {
        // pickle.dumps(['x', 'y'*300, {1, 2}, frozenset({3}), b'q', ('x', 'x')], protocol=4)
        let bytes = hex("80049552010000000000005d94288c017894582c010000")
            + Array(repeating: UInt8(ascii: "y"), count: 300)
            + hex("948f94284b014b0290284b03919443017194680168018694652e")
        #expect(try decodeOne(bytes) == .list([
            .string("x"), .string(String(repeating: "y", count: 300)), .set([.int(1), .int(2)]),
            .frozenSet([.int(3)]), .bytes([0x71]), .tuple([.string("x"), .string("x")]),
        ]))
    }

    @Test func protocol5AndEightByteLengths() throws {
        // pickle.dumps(bytearray(b'ab'), protocol=5)
        #expect(try decodeOne(hex("8005950d000000000000009602000000000000006162942e")) == .bytes([0x61, 0x62]))
        // b'\x80\x04\x8d\x02\x00\x00\x00\x00\x00\x00\x00hi\x8e\x01\x00\x00\x00\x00\x00\x00\x00z\x86.'
        // -> ('hi', b'z'): BINUNICODE8 and BINBYTES8.
        let wide = try decodeOne(hex("80048d020000000000000068698e01000000000000007a862e"))
        #expect(wide == .tuple([.string("hi"), .bytes([0x7A])]))
    }

    @Test func containersInProtocol1() throws {
        // pickle.dumps(((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [1], [1, 2], {}, {'a': 1},
        //               {'a': 1, 'b': 2}), protocol=1)
        let value = try decodeOne(hex("""
            2829284b01747100284b014b02747101284b014b024b03747102284b014b024b034b047471035d71045d71054b01615d
            7106284b014b02657d71077d710858010000006171094b01737d710a2868094b01580100000062710b4b027574710c2e
            """))
        #expect(value == .tuple([
            .tuple([]), .tuple([.int(1)]), .tuple([.int(1), .int(2)]), .tuple([.int(1), .int(2), .int(3)]),
            .tuple([.int(1), .int(2), .int(3), .int(4)]), .list([]), .list([.int(1)]), .list([.int(1), .int(2)]),
            .dict([]), dict(["a": .int(1)]), dict(["a": .int(1), "b": .int(2)]),
        ]))
    }

    @Test func textMemoAndContainersInProtocol0() throws {
        // pickle.dumps([x := [1], x, {'k': x}, (1, 2)], protocol=0): LIST, DICT, TUPLE, PUT, GET.
        let value = try decodeOne(hex("""
            286c70300a286c70310a49310a616167310a61286470320a566b0a70330a67310a73612849310a49320a7470340a612e
            """))
        let x = PickleValue.list([.int(1)])
        #expect(value == .list([x, x, dict(["k": x]), .tuple([.int(1), .int(2)])]))
    }

    @Test func memoSeesLaterMutation() throws {
        // pickle.dumps([d := {'a': 1}, d], protocol=2): BINPUT stores the dict before SETITEM fills it.
        let value = try decodeOne(hex("80025d7100287d710158010000006171024b01736801652e"))
        #expect(value == .list([dict(["a": .int(1)]), dict(["a": .int(1)])]))
        // b'\x80\x02]q\x00h\x00K\x01a0.' -> [1]: an append through the memo'd alias shows in the original.
        #expect(try decodeOne(hex("80025d710068004b0161302e")) == .list([.int(1)]))
    }

    @Test func stackManipulation() throws {
        // b'(K\x01K\x021K\x030N2\x86.' -> (None, None): POP_MARK, POP, DUP.
        #expect(try decodeOne(hex("284b014b02314b03304e32862e")) == .tuple([.none, .none]))
        // b'(0N.' -> None: POP with nothing above the mark discards the mark.
        #expect(try decodeOne(hex("28304e2e")) == .none)
    }

    @Test func reduce() throws {
        // pickle.dumps(datetime.datetime(2020, 1, 2, 3, 4, 5), protocol=3)
        let value = try decodeOne(hex("8003636461746574696d650a6461746574696d650a7100430a07e4010203040500000071018571025271032e"))
        #expect(value == .object(PickleObject(
            callable: .global(module: "datetime", name: "datetime"),
            arguments: .tuple([.bytes(hex("07e40102030405000000"))])
        )))
    }

    @Test func reduceWithDictItems() throws {
        // pickle.dumps(collections.OrderedDict([('a', 1)]), protocol=2): SETITEM on the instance.
        let value = try decodeOne(hex("800263636f6c6c656374696f6e730a4f726465726564446963740a71002952710158010000006171024b01732e"))
        #expect(value == .object(PickleObject(
            callable: .global(module: "collections", name: "OrderedDict"),
            dictItems: [PickleDictEntry(key: .string("a"), value: .int(1))]
        )))
    }

    @Test func newObjAndBuild() throws {
        // pickle.dumps(Point(1, 'p'), protocol=2) with class Point: __init__ sets x, y.
        let value = try decodeOne(hex("""
            8002637665636d6f640a506f696e740a7100298171017d71022858010000007871034b015801000000797104580100
            000070710575622e
            """))
        #expect(value == .object(PickleObject(
            callable: .global(module: "vecmod", name: "Point"),
            state: dict(["x": .int(1), "y": .string("p")]),
            isNewObj: true
        )))
    }

    @Test func newObjExAndStackGlobal() throws {
        // pickle.dumps(KW(1, b=2), protocol=4) with KW.__getnewargs_ex__ returning ((a,), {'b': b}).
        let value = try decodeOne(hex("""
            8004952f000000000000008c067665636d6f64948c024b579493944b0185947d948c0162944b027392947d94288c01
            61944b0168054b0275622e
            """))
        #expect(value == .object(PickleObject(
            callable: .global(module: "vecmod", name: "KW"),
            arguments: .tuple([.int(1)]),
            keywordArguments: dict(["b": .int(2)]),
            state: dict(["a": .int(1), "b": .int(2)]),
            isNewObj: true
        )))
    }

    @Test func listSubclassAppends() throws {
        // pickle.dumps(L([1, 2]), protocol=2) with class L(list).
        let value = try decodeOne(hex("8002637665636d6f640a4c0a710029817101284b014b02652e"))
        #expect(value == .object(PickleObject(
            callable: .global(module: "vecmod", name: "L"), isNewObj: true, listItems: [.int(1), .int(2)]
        )))
    }

    @Test func instAndObj() throws {
        // b'(K\x01K\x02ivecmod\nPoint\n.' -> Point(1, 2)
        #expect(try decodeOne(hex("284b014b02697665636d6f640a506f696e740a2e")) == .object(PickleObject(
            callable: .global(module: "vecmod", name: "Point"), arguments: .tuple([.int(1), .int(2)])
        )))
        // b'(cvecmod\nPoint\nK\x03K\x04o.' -> Point(3, 4)
        #expect(try decodeOne(hex("28637665636d6f640a506f696e740a4b034b046f2e")) == .object(PickleObject(
            callable: .global(module: "vecmod", name: "Point"), arguments: .tuple([.int(3), .int(4)])
        )))
    }

    @Test func persistentIDs() throws {
        // A Pickler whose persistent_id maps 'REF' to 'abcdefgh' and 'REF2' to (b'\0'*7 + b'\5', None),
        // dumping ['REF', 'REF2'] with protocol 0 (PERSID: the str() of the id) ...
        let text = try decodeOne(hex("""
            286c70300a5061626364656667680a61502862275c7830305c7830305c7830305c7830305c7830305c7830305c7830
            305c783035272c204e6f6e65290a612e
            """))
        #expect(text == .list([
            .persistentID(.string("abcdefgh")),
            .persistentID(.string(#"(b'\x00\x00\x00\x00\x00\x00\x00\x05', None)"#)),
        ]))
        // ... and protocol 2 (BINPERSID; the bytes are `_codecs.encode(str, 'latin1')`).
        let binary = try decodeOne(hex("""
            80025d71002858080000006162636465666768710151635f636f646563730a656e636f64650a710258080000000000
            000000000005710358060000006c6174696e3171048671055271064e86710751652e
            """))
        guard case .list(let ids) = binary, ids.count == 2,
              case .persistentID(.tuple(let parts)) = ids[1], parts.count == 2
        else { Issue.record("unexpected \(binary)"); return }
        #expect(ids[0] == .persistentID(.string("abcdefgh")))
        #expect(parts[0].latin1EncodedBytes == oidBytes(5))
        #expect(parts[1] == .none)
    }

    @Test func protocol2Bytes() throws {
        // pickle.dumps(b'\x00\xffA', protocol=2)
        let encoded = try decodeOne(hex("8002635f636f646563730a656e636f64650a7100580400000000c3bf41710158060000006c6174696e3171028671035271042e"))
        #expect(encoded.latin1EncodedBytes == [0x00, 0xFF, 0x41])
        #expect(encoded.bytesValue == [0x00, 0xFF, 0x41])
        // pickle.dumps(b'', protocol=2)
        let empty = try decodeOne(hex("8002635f5f6275696c74696e5f5f0a62797465730a7100295271012e"))
        #expect(empty.latin1EncodedBytes == [])
    }

    @Test func opcodeNamesMatchPickletools() {
        #expect(Opcode.allCases.count == 68)
        #expect(Opcode.binPersID.name == "BINPERSID")
        #expect(Opcode(rawValue: 0x95)?.name == "FRAME")
        #expect(Set(Opcode.allCases.map(\.name)).count == Opcode.allCases.count)
    }
}
