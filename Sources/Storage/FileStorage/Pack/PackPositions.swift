/// The position of each oid's revision current at the pack time (0 when
/// that revision deletes it), as the marking walk and the copy look it up:
/// a flat array indexed by oid.
///
/// ZODB hands out oids densely from 0 (`new_oid` adds one), so an array
/// sized to the largest oid costs 8 bytes per oid — less than an
/// ``ObjectIndex`` once most oids are in use — and a lookup is one array
/// access where the index searches a bucket. A pack of an object-heavy
/// store looks one up for each of millions of records, in every phase.
/// Oids far past the others (beyond twice the count so far plus 2^16) wait
/// in a side dictionary, moved into the array when it grows over them, so a
/// stray huge oid costs an entry, not an array up to it.
struct PackPositions: Sequence {
    /// Position + 1 per oid; 0: not there.
    private var dense: [UInt64] = []
    /// Oids at or past `dense.count`.
    private var sparse: [UInt64: UInt64] = [:]
    private(set) var count = 0

    /// - Parameters:
    ///   - expected: about how many oids there will be, and `largestOID` the
    ///     largest (the storage's index knows both), to size the array once
    ///     when they are dense enough.
    init(expected: Int = 0, largestOID: OID? = nil) {
        if let largest = largestOID?.rawValue, largest <= UInt64(2 * expected) + Self.growthSlack {
            dense = [UInt64](repeating: 0, count: Int(largest) + 1)
        }
    }

    subscript(oid: OID) -> UInt64? {
        let o = oid.rawValue
        if o < UInt64(dense.count) {
            let stored = dense[Int(o)]
            return stored == 0 ? nil : stored - 1
        }
        return sparse.isEmpty ? nil : sparse[o]
    }

    mutating func updateValue(_ position: UInt64, forKey oid: OID) {
        let o = oid.rawValue
        if o >= UInt64(dense.count), o <= UInt64(2 * count) + Self.growthSlack {
            grow(toInclude: o)
        }
        if o < UInt64(dense.count) {
            if dense[Int(o)] == 0 { count += 1 }
            dense[Int(o)] = position + 1
        } else if sparse.updateValue(position, forKey: o) == nil {
            count += 1
        }
    }

    private static let growthSlack: UInt64 = 1 << 16

    private mutating func grow(toInclude oid: UInt64) {
        let size = Int(Swift.max(oid + 1, Swift.min(UInt64(dense.count) * 2, UInt64(2 * count) + Self.growthSlack + 1)))
        dense += repeatElement(0, count: size - dense.count)
        guard !sparse.isEmpty else { return }
        for (o, position) in sparse where o < UInt64(size) {
            dense[Int(o)] = position + 1
            sparse[o] = nil
        }
    }

    /// The entries in oid order.
    func makeIterator() -> AnyIterator<(oid: OID, position: UInt64)> {
        var i = 0
        var rest = sparse.sorted { $0.key < $1.key }[...]
        let dense = dense
        return AnyIterator {
            while i < dense.count {
                defer { i += 1 }
                if dense[i] != 0 { return (OID(rawValue: UInt64(i)), dense[i] - 1) }
            }
            guard let (o, position) = rest.popFirst() else { return nil }
            return (OID(rawValue: o), position)
        }
    }
}
