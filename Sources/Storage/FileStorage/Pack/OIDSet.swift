/// A set of oids as a sparse bitmap: one 8 KiB page of 65,536 bits per
/// 16-bit oid prefix in use.
///
/// Pack marks every reachable object; ZODB keeps them in an `fsIndex`
/// (about 10 bytes per oid plus Python overhead). Oids are handed out
/// densely from 0, so a bitmap costs one bit per oid up to the largest —
/// 256 KiB for two million objects — and testing or adding is an array
/// index, a shift and a mask. Pages of prefixes below 2^20 (oids below
/// 2^36) sit in an array; the rare larger oids in a dictionary.
struct OIDSet {
    private var low: [[UInt64]] = []
    private var high: [UInt64: [UInt64]] = [:]
    private(set) var count = 0

    private static let denseLimit: UInt64 = 1 << 20
    private static let emptyPage = [UInt64](repeating: 0, count: 1024)

    /// Adds `oid`; false when it was already there.
    @discardableResult
    mutating func insert(_ oid: OID) -> Bool {
        let (page, word, bit) = Self.split(oid)
        var inserted = false
        if page < Self.denseLimit {
            let p = Int(page)
            if p >= low.count { low.append(contentsOf: repeatElement([], count: p + 1 - low.count)) }
            if low[p].isEmpty { low[p] = Self.emptyPage }
            if low[p][word] & bit == 0 {
                low[p][word] |= bit
                inserted = true
            }
        } else {
            if high[page, default: Self.emptyPage][word] & bit == 0 {
                high[page, default: Self.emptyPage][word] |= bit
                inserted = true
            }
        }
        if inserted { count += 1 }
        return inserted
    }

    mutating func remove(_ oid: OID) {
        guard contains(oid) else { return }
        let (page, word, bit) = Self.split(oid)
        if page < Self.denseLimit {
            low[Int(page)][word] &= ~bit
        } else {
            high[page]?[word] &= ~bit
        }
        count -= 1
    }

    @inline(__always)
    func contains(_ oid: OID) -> Bool {
        let (page, word, bit) = Self.split(oid)
        if page < Self.denseLimit {
            let p = Int(page)
            guard p < low.count, !low[p].isEmpty else { return false }
            return low[p][word] & bit != 0
        }
        guard let words = high[page] else { return false }
        return words[word] & bit != 0
    }

    private static func split(_ oid: OID) -> (page: UInt64, word: Int, bit: UInt64) {
        let low = Int(truncatingIfNeeded: oid.rawValue & 0xFFFF)
        return (oid.rawValue >> 16, low >> 6, 1 << UInt64(low & 63))
    }
}
