@testable import Storage
import Testing

@Suite struct PackPositionsTests {
    /// Against a dictionary: dense oids, updates, a deleting revision
    /// (position 0), oids far past the others, and the array growing over
    /// oids that first went to the side.
    @Test func agreesWithADictionaryWhateverTheOids() {
        var positions = PackPositions()
        var expected: [UInt64: UInt64] = [:]
        func set(_ oid: UInt64, _ position: UInt64) {
            positions.updateValue(position, forKey: OID(oid))
            expected[oid] = position
        }
        for oid in 0..<1000 as Range<UInt64> { set(oid, oid * 10 + 4) }
        set(7, 0)
        set(500, 99)
        set(1 << 40, 123)            // far away: on the side
        set(200_000, 77)             // past the array, on the side at first
        for oid in 1000..<120_000 as Range<UInt64> { set(oid, oid) }   // the array grows over 200_000
        #expect(positions.count == expected.count)
        for (oid, position) in expected { #expect(positions[OID(oid)] == position, "oid \(oid)") }
        #expect(positions[OID(1_000_000)] == nil && positions[OID((1 << 40) + 1)] == nil)
        let listed = Array(positions)
        #expect(listed.map(\.oid.rawValue) == expected.keys.sorted())
        #expect(listed.allSatisfy { expected[$0.oid.rawValue] == $0.position })
    }

    @Test func sizedFromTheIndexOnlyWhenDense() {
        var sized = PackPositions(expected: 100, largestOID: OID(150))
        sized.updateValue(5, forKey: OID(150))
        #expect(sized[OID(150)] == 5 && sized.count == 1)
        var sparse = PackPositions(expected: 2, largestOID: OID(1 << 50))
        sparse.updateValue(9, forKey: OID(1 << 50))
        #expect(sparse[OID(1 << 50)] == 9 && Array(sparse).count == 1)
    }
}
