@testable import Storage
import Testing

@Suite struct PackPositionsTests {
    /// Against a dictionary: dense oids, updates, a deleting revision
    /// (position 0), pages apart, and oids far past the others.
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
        set(200_000, 77)             // a page of its own, past those before
        for oid in 1000..<120_000 as Range<UInt64> { set(oid, oid) }
        set(1 << 40, 124)            // replaced on the side
        #expect(positions.count == expected.count)
        for (oid, position) in expected { #expect(positions[OID(oid)] == position, "oid \(oid)") }
        #expect(positions[OID(1_000_000)] == nil && positions[OID((1 << 40) + 1)] == nil)
        let listed = Array(positions)
        #expect(listed.map(\.oid.rawValue) == expected.keys.sorted())
        #expect(listed.allSatisfy { expected[$0.oid.rawValue] == $0.position })
    }

    /// Draining hands over each page as an index bucket of the entries
    /// kept, in oid order, then the side entries, and leaves nothing.
    @Test func drainsIntoBucketsOfTheEntriesKept() {
        var positions = PackPositions()
        var expected: [(OID, UInt64)] = []
        for oid in [3, 5, 70_000, 70_001, 200_000] as [UInt64] {
            positions.updateValue(oid + 1000, forKey: OID(oid))
            expected.append((OID(oid), oid + 1000))
        }
        positions.updateValue(0, forKey: OID(9))               // deleted: left out
        positions.updateValue(7, forKey: OID(1 << 40))         // on the side
        expected.append((OID(1 << 40), 7))
        var buckets: [(UInt64, [UInt16], [UInt64])] = []
        var entries: [(OID, UInt64)] = []
        positions.drainBuckets(keeping: { _, position in position != 0 }) { prefix, suffixes, values in
            buckets.append((prefix, suffixes, values))
        } entry: { oid, position in
            entries.append((oid, position))
        }
        #expect(buckets.map(\.0) == [0, 1, 3])
        #expect(buckets.map(\.1) == [[3, 5], [4464, 4465], [3392]])
        var index = ObjectIndex()
        for (prefix, suffixes, values) in buckets { index.appendBucket(prefix: prefix, suffixes: suffixes, positions: values) }
        for (oid, position) in entries { index.updateValue(position, forKey: oid) }
        #expect(index.map { "\($0.oid.rawValue)=\($0.position)" } == expected.map { "\($0.0.rawValue)=\($0.1)" })
        #expect(positions.count == 0 && positions[OID(3)] == nil && Array(positions).isEmpty)
    }
}
