import Storage
import Testing

@Suite struct ObjectIndexTests {
    @Test func basics() {
        var index = ObjectIndex()
        #expect(index.isEmpty && index.maxOID == nil && index[.root] == nil)
        #expect(index.updateValue(10, forKey: OID(5)) == nil)
        #expect(index.updateValue(20, forKey: OID(5)) == 10)
        #expect(index.updateValue(30, forKey: OID(0x1_0000)) == nil)
        #expect(index[OID(5)] == 20 && index[OID(0x1_0000)] == 30 && index[OID(6)] == nil)
        #expect(index.count == 2)
        #expect(index.maxOID == OID(0x1_0000))
        #expect(Array(index.map(\.oid)) == [OID(5), OID(0x1_0000)])
        let literal: ObjectIndex = [OID(0x1_0000): 30, OID(5): 20]
        #expect(literal == index)
        #expect(ObjectIndex(index.dictionary) == index)
    }

    /// Random insertions and updates in any order agree with a dictionary,
    /// and iteration is in oid order.
    @Test(arguments: [1 as UInt64, 2, 3])
    func agreesWithADictionary(seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        var index = ObjectIndex()
        var model: [OID: UInt64] = [:]
        for step in 0..<60_000 {
            let oid: OID
            switch generator.next() % 4 {
            case 0: oid = OID(UInt64(step))  // increasing, like new oids
            case 1: oid = OID(generator.next() % 70_000)  // shuffled within a few buckets
            case 2: oid = OID(generator.next() % 300)
            default: oid = OID(generator.next() >> 40)  // far apart prefixes
            }
            let position = generator.next() >> 16
            #expect(index.updateValue(position, forKey: oid) == model.updateValue(position, forKey: oid))
        }
        #expect(index.count == model.count)
        #expect(index.dictionary == model)
        let oids = index.map(\.oid)
        #expect(oids == oids.sorted())
        #expect(index.maxOID == model.keys.max())
        for (oid, position) in model { #expect(index[oid] == position) }
        for _ in 0..<1000 {
            let oid = OID(generator.next() % 80_000)
            #expect(index[oid] == model[oid])
        }
    }
}
