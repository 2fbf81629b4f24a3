import Pickle
import Testing

/// Real records (see `Fixtures`) decoded to the structure `zodbpickle` loads them as.
@Suite struct ZODBRecordTests {
    /// Both pickles of a record, decoded with one decoder as `ObjectReader` does.
    private func classAndState(_ fixture: Fixture) throws -> (PickleValue, PickleValue) {
        var decoder = PickleDecoder(bytes: fixture.record)
        let classMetadata = try decoder.decodeNext()
        let state = try decoder.decodeNext()
        #expect(decoder.isAtEnd)
        #expect(decoder.position == fixture.record.count)
        return (classMetadata, state)
    }

    private static func words(_ range: Range<Int>) -> [PickleValue] {
        range.map { index in
            let digits = String(index)
            return .string("w" + String(repeating: "0", count: 3 - digits.count) + digits)
        }
    }

    /// `(("k15", 15, …),)`-style bucket items for keys `k<first>` … `k<last>`.
    private static func bucketItems(_ range: ClosedRange<Int>) -> PickleValue {
        .tuple(range.flatMap { index -> [PickleValue] in
            [.string(index < 10 ? "k0\(index)" : "k\(index)"), .int(Int64(index))]
        })
    }

    @Test func rootPersistentMapping() throws {
        let (classMetadata, state) = try classAndState(Fixtures.root)
        #expect(classMetadata == .global(module: "persistent.mapping", name: "PersistentMapping"))
        #expect(state == dict([
            "data": dict([
                "holder": ref(0x1, "fixturemod", "P"),
                "folder": ref(0x2, "OFS.Folder", "Folder"),
                "tree": ref(0x3, "BTrees.OOBTree", "OOBTree"),
                "pdata": ref(0x4, "OFS.Image", "Pdata"),
                // The state pickle's `BINGET 0` fetches the class the metadata pickle stored.
                "many": ref(0x5, "persistent.mapping", "PersistentMapping"),
            ]),
        ]))
    }

    @Test func everyReferenceForm() throws {
        let (classMetadata, state) = try classAndState(Fixtures.holder)
        let p = PickleValue.global(module: "fixturemod", name: "P")
        #expect(classMetadata == p)
        #expect(state == dict([
            "plain": ref(0xA, "fixturemod", "P"),
            "newargs": .persistentID(.bytes(oidBytes(0xB))),
            "weak": .persistentID(.list([.string("w"), .tuple([.bytes(oidBytes(0xA))])])),
            "xdb": .persistentID(.list([.string("m"), .tuple([.string("other"), .bytes(oidBytes(0x1)), p])])),
            "xdb_new": .persistentID(.list([.string("n"), .tuple([.string("other"), .bytes(oidBytes(0x2))])])),
            "s": .string("unicode text é"),
            "b": .bytes([0x72, 0x61, 0x77, 0xFF]),
            "i": .int(1 << 40),
            "f": .float(1.5),
            "t": .tuple([.int(1), .string("a")]),
            "l": .list([.none, .bool(true)]),
        ]))
    }

    @Test func ofsFolder() throws {
        let (classMetadata, state) = try classAndState(Fixtures.folder)
        #expect(classMetadata == .global(module: "OFS.Folder", name: "Folder"))
        #expect(state == dict([
            "id": .string("f1"),
            "title": .string("Folder One"),
            "_objects": .tuple([dict(["id": .string("small.txt"), "meta_type": .string("File")])]),
            "small.txt": ref(0x9, "OFS.Image", "File"),
        ]))
        #expect(state["title"]?.stringValue == "Folder One")
        #expect(state["_objects"]?.tupleElements?.first?["meta_type"]?.stringValue == "File")
    }

    @Test func ofsFileWithInlineData() throws {
        let (classMetadata, state) = try classAndState(Fixtures.file)
        #expect(classMetadata == .global(module: "OFS.Image", name: "File"))
        #expect(state == dict([
            "__name__": .string("small.txt"),
            "title": .string("Small"),
            "precondition": .string(""),
            "content_type": .string("text/plain"),
            "size": .int(12),
            "data": .bytes(Array("hello world\n".utf8)),
            "_EtagSupport__etag": .string("ts95324013.3404894"),
        ]))
        #expect(state["size"]?.intValue == 12)
        #expect(state["data"]?.bytesValue == Array("hello world\n".utf8))
    }

    @Test func ooBTreeWithTwoBuckets() throws {
        let (classMetadata, state) = try classAndState(Fixtures.tree)
        #expect(classMetadata == .global(module: "BTrees.OOBTree", name: "OOBTree"))
        let first = ref(0x7, "BTrees.OOBTree", "OOBucket")
        #expect(state == .tuple([.tuple([first, .string("k15"), ref(0x8, "BTrees.OOBTree", "OOBucket")]), first]))
    }

    @Test func bucketWhoseNextReferenceReusesMemo0() throws {
        let (classMetadata, state) = try classAndState(Fixtures.bucketWithNext)
        #expect(classMetadata == .global(module: "BTrees.OOBTree", name: "OOBucket"))
        #expect(state == .tuple([Self.bucketItems(0 ... 14), ref(0x8, "BTrees.OOBTree", "OOBucket")]))
    }

    @Test func lastBucket() throws {
        let (_, state) = try classAndState(Fixtures.lastBucket)
        #expect(state == .tuple([Self.bucketItems(15 ... 39)]))
    }

    @Test func memoPast255Entries() throws {
        // 300 memo'd strings: LONG_BINPUT from key 256 on, and `'last'` is LONG_BINGET 305.
        #expect(Fixtures.manyWords.record.contains(Opcode.longBinPut.rawValue))
        #expect(Fixtures.manyWords.record.contains(Opcode.longBinGet.rawValue))
        let (_, state) = try classAndState(Fixtures.manyWords)
        let words = PickleValue.list(Self.words(0 ..< 300))
        // `'again'` is BINGET 5 of the list, memo'd before APPENDS filled it.
        #expect(state == dict(["data": dict(["words": words, "again": words, "last": .string("w299")])]))
    }

    @Test func pdataLinks() throws {
        let (classMetadata, last) = try classAndState(Fixtures.pdataLast)
        #expect(classMetadata == .global(module: "OFS.Image", name: "Pdata"))
        #expect(last == dict(["data": .bytes(Fixtures.pdataPayload), "next": .none]))
        #expect(last["next"]?.isNone == true)

        let (_, first) = try classAndState(Fixtures.pdataFirst)
        #expect(first == dict(["data": .bytes(Fixtures.pdataPayload.reversed()), "next": ref(0x6, "OFS.Image", "Pdata")]))
    }

    @Test func zope2Protocol1Record() throws {
        let (classMetadata, state) = try classAndState(Fixtures.zope2File)
        let file = PickleValue.global(module: "OFS.Image", name: "File")
        let pdata = PickleValue.global(module: "OFS.Image", name: "Pdata")
        #expect(classMetadata == file)
        // Python 2 str oids are ASCII, so they load as str, exactly as under zodbpickle.
        func oid(_ value: UInt64) -> PickleValue { .string(String(decoding: oidBytes(value), as: UTF8.self)) }
        #expect(state == dict([
            "title": .string("Small"),
            "data": .string("hello\n"),
            "size": .int(6),
            "next": .persistentID(.tuple([oid(0xB), pdata])),
            "prev": .persistentID(.tuple([oid(0xC), pdata])),
            "self": .persistentID(.tuple([oid(0xB), file])),
        ]))
        #expect(state["next"]?.persistentIDArgument?.tupleElements?.first?.asciiBytes == oidBytes(0xB))
    }

    @Test func zope2NonASCIIStringBecomesBytes() throws {
        let (_, state) = try classAndState(Fixtures.zope2FileWithBytes)
        #expect(state["raw"] == .bytes([0xFF, 0xFE]))
        #expect(state["data"] == .string("hello\n"))
    }

    @Test func decodingIsRepeatable() throws {
        // A rough throughput sanity run; the results must stay identical.
        let expected = try decodeAll(Fixtures.manyWords.record)
        for _ in 0 ..< 200 {
            #expect(try decodeAll(Fixtures.manyWords.record) == expected)
        }
    }
}
