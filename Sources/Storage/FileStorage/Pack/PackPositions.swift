/// The position of each oid's revision current at the pack time (0 when
/// that revision deletes it), as the marking walk and the copy look it up:
/// pages of 65,536 oids indexed by the oid's 16-bit prefix — the split of
/// ZODB's `fsIndex` and of ``ObjectIndex`` — each a flat array indexed by
/// the 16-bit suffix.
///
/// ZODB hands out oids densely from 0 (`new_oid` adds one), so a page costs
/// 6 bytes per oid — a position in 48 bits, the width `fsIndex` stores
/// (`str48`), split into a 16-bit and a 32-bit array — less than an
/// ``ObjectIndex`` once most oids are in use, and a lookup is two array
/// accesses where the index searches a bucket. A pack of an object-heavy
/// store looks one up for each of millions of records, in every phase.
///
/// Pages because the packed file's index is built from this one at the end
/// of the copy (``PackMarker/takePackedIndex()``): each page is turned into
/// its bucket and freed, so the two never take their full size together.
/// Oids of prefixes past ``pageLimit`` (over 2^30 objects, or a stray huge
/// oid) wait in a side dictionary. Positions lie inside the file, which
/// `fsIndex` limits to 2^48 bytes.
struct PackPositions: Sequence {
    /// Position + 1 per suffix, bits 32–47 and 0–31; 0: not there. Empty
    /// arrays for a prefix without oids. (Not an optional: reading through
    /// one copies the page's arrays out, a retain and a release per lookup.)
    struct Page {
        var high: [UInt16] = []
        var low: [UInt32] = []

        var isAllocated: Bool { !low.isEmpty }

        static func allocated() -> Page {
            Page(high: [UInt16](repeating: 0, count: 1 << 16), low: [UInt32](repeating: 0, count: 1 << 16))
        }

        @inline(__always)
        subscript(suffix: Int) -> UInt64 {
            get { UInt64(high[suffix]) << 32 | UInt64(low[suffix]) }
            set {
                high[suffix] = UInt16(truncatingIfNeeded: newValue >> 32)
                low[suffix] = UInt32(truncatingIfNeeded: newValue)
            }
        }
    }

    private var pages: [Page] = []
    /// Oids of a prefix at or past ``pageLimit``: oid → position.
    private var sparse: [UInt64: UInt64] = [:]
    private(set) var count = 0

    static let pageLimit: UInt64 = 1 << 14
    private static let widest: UInt64 = 1 << 48

    init() {}

    subscript(oid: OID) -> UInt64? {
        let (prefix, suffix) = Self.split(oid)
        if prefix < UInt64(pages.count) {
            let p = Int(prefix)
            guard pages[p].isAllocated else { return nil }
            let stored = pages[p][suffix]
            return stored == 0 ? nil : stored - 1
        }
        return sparse.isEmpty ? nil : sparse[oid.rawValue]
    }

    mutating func updateValue(_ position: UInt64, forKey oid: OID) {
        let (prefix, suffix) = Self.split(oid)
        precondition(position + 1 < Self.widest, "a position past the 48 bits of fsIndex")
        guard prefix < Self.pageLimit else {
            if sparse.updateValue(position, forKey: oid.rawValue) == nil { count += 1 }
            return
        }
        let p = Int(prefix)
        if p >= pages.count { pages += repeatElement(Page(), count: p + 1 - pages.count) }
        if !pages[p].isAllocated { pages[p] = .allocated() }
        if pages[p][suffix] == 0 { count += 1 }
        pages[p][suffix] = position + 1
    }

    @inline(__always)
    private static func split(_ oid: OID) -> (prefix: UInt64, suffix: Int) {
        (oid.rawValue >> 16, Int(truncatingIfNeeded: oid.rawValue & 0xFFFF))
    }

    /// Hands the entries `keep` accepts to `body` one page at a time, in oid
    /// order, as the sorted suffixes and positions of an ``ObjectIndex``
    /// bucket (arrays of exactly their size), freeing each page once it is
    /// handed over; then the side entries, one by one. Leaves this empty.
    /// Each page is read twice, to count and then to fill: the buckets
    /// outlive the pack as the storage's index, so their arrays are
    /// allocated once at their size rather than grown or trimmed.
    mutating func drainBuckets(
        keeping keep: (OID, UInt64) -> Bool,
        bucket body: (_ prefix: UInt64, _ suffixes: [UInt16], _ positions: [UInt64]) -> Void,
        entry: (OID, UInt64) -> Void
    ) {
        for p in pages.indices where pages[p].isAllocated {
            let page = pages[p]
            pages[p] = Page()
            let prefix = UInt64(p) << 16
            var kept = 0
            for suffix in 0..<(1 << 16) where page[suffix] != 0 && keep(OID(rawValue: prefix | UInt64(suffix)), page[suffix] - 1) {
                kept += 1
            }
            guard kept > 0 else { continue }
            var suffixes: [UInt16] = []
            var positions: [UInt64] = []
            suffixes.reserveCapacity(kept)
            positions.reserveCapacity(kept)
            for suffix in 0..<(1 << 16) where page[suffix] != 0 && keep(OID(rawValue: prefix | UInt64(suffix)), page[suffix] - 1) {
                suffixes.append(UInt16(suffix))
                positions.append(page[suffix] - 1)
            }
            body(UInt64(p), suffixes, positions)
        }
        pages = []
        for (o, position) in sparse.sorted(by: { $0.key < $1.key }) where keep(OID(rawValue: o), position) {
            entry(OID(rawValue: o), position)
        }
        sparse = [:]
        count = 0
    }

    /// The entries in oid order.
    func makeIterator() -> AnyIterator<(oid: OID, position: UInt64)> {
        var p = 0
        var suffix = 0
        var rest = sparse.sorted { $0.key < $1.key }[...]
        let pages = pages
        return AnyIterator {
            while p < pages.count {
                if pages[p].isAllocated {
                    let page = pages[p]
                    while suffix < 1 << 16 {
                        defer { suffix += 1 }
                        let stored = page[suffix]
                        if stored != 0 { return (OID(rawValue: UInt64(p) << 16 | UInt64(suffix)), stored - 1) }
                    }
                }
                p += 1
                suffix = 0
            }
            guard let (o, position) = rest.popFirst() else { return nil }
            return (OID(rawValue: o), position)
        }
    }
}
