import Pickle
import Testing

@Suite struct PickleValueAccessorsTests {
    @Test func dictSubscriptTakesTheLastEntryForAKey() {
        let value = PickleValue.dict([
            PickleDictEntry(key: .string("a"), value: .int(1)),
            PickleDictEntry(key: .int(7), value: .int(2)),
            PickleDictEntry(key: .string("a"), value: .int(3)),
        ])
        #expect(value["a"] == .int(3))
        #expect(value["b"] == nil)
        #expect(PickleValue.list([])["a"] == nil)
        #expect(value.dictEntries?.count == 3)
    }

    @Test func scalarAccessors() {
        #expect(PickleValue.string("x").stringValue == "x")
        #expect(PickleValue.bytes([1]).stringValue == nil)
        #expect(PickleValue.int(-4).intValue == -4)
        #expect(PickleValue.bool(true).intValue == nil)
        #expect(PickleValue.bool(true).boolValue == true)
        #expect(PickleValue.int(2).doubleValue == 2)
        #expect(PickleValue.float(0.5).doubleValue == 0.5)
        #expect(PickleValue.none.isNone)
        #expect(!PickleValue.int(0).isNone)
    }

    @Test func byteAccessors() {
        #expect(PickleValue.bytes([0xFF]).bytesValue == [0xFF])
        #expect(PickleValue.byteRange(offset: 4, length: 9).bytesValue == nil)
        #expect(PickleValue.string("abc").bytesValue == nil)
        #expect(PickleValue.string("abc").asciiBytes == [0x61, 0x62, 0x63])
        #expect(PickleValue.string("é").asciiBytes == nil)
        #expect(PickleValue.bytes([0x80]).asciiBytes == [0x80])
    }

    @Test func sequenceAndObjectAccessors() {
        #expect(PickleValue.tuple([.none]).tupleElements == [.none])
        #expect(PickleValue.list([.int(1)]).tupleElements == [.int(1)])
        #expect(PickleValue.set([.int(1)]).tupleElements == nil)
        let global = PickleValue.global(module: "OFS.Image", name: "File")
        #expect(global.globalName?.module == "OFS.Image")
        #expect(global.globalName?.name == "File")
        let object = PickleValue.object(PickleObject(callable: global, state: nil))
        #expect(object.objectValue?.callable == global)
        #expect(PickleValue.persistentID(.int(1)).persistentIDArgument == .int(1))
    }

    @Test func latin1EncodedBytesRequiresTheExactShape() {
        let encode = PickleValue.global(module: "_codecs", name: "encode")
        func call(_ arguments: [PickleValue]) -> PickleValue {
            .object(PickleObject(callable: encode, arguments: .tuple(arguments)))
        }
        #expect(call([.string("a\u{FF}"), .string("latin1")]).latin1EncodedBytes == [0x61, 0xFF])
        #expect(call([.string("\u{100}"), .string("latin1")]).latin1EncodedBytes == nil)
        #expect(call([.string("a"), .string("utf-8")]).latin1EncodedBytes == nil)
        #expect(PickleValue.bytes([1]).latin1EncodedBytes == nil)
    }
}
