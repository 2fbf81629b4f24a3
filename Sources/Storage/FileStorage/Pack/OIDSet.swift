/// A set of oids as a sparse bitmap: one 8 KiB page of 65,536 bits per
/// 16-bit oid prefix in use.
///
/// Pack marks every reachable object; ZODB keeps them in an `fsIndex`
/// (about 10 bytes per oid plus Python overhead). Oids are handed out
/// densely from 0, so a bitmap costs one bit per oid up to the largest —
/// 256 KiB for two million objects — and testing or adding is a shift and
/// a mask.
struct OIDSet {
    private var pages: [UInt64: [UInt64]] = [:]
    private(set) var count = 0

    /// Adds `oid`; false when it was already there.
    @discardableResult
    mutating func insert(_ oid: OID) -> Bool {
        let (page, word, bit) = Self.split(oid)
        var inserted = false
        pages[page, default: [UInt64](repeating: 0, count: 1024)].withUnsafeMutableBufferPointer { words in
            if words[word] & bit == 0 {
                words[word] |= bit
                inserted = true
            }
        }
        if inserted { count += 1 }
        return inserted
    }

    func contains(_ oid: OID) -> Bool {
        let (page, word, bit) = Self.split(oid)
        guard let words = pages[page] else { return false }
        return words[word] & bit != 0
    }

    private static func split(_ oid: OID) -> (page: UInt64, word: Int, bit: UInt64) {
        let low = Int(truncatingIfNeeded: oid.rawValue & 0xFFFF)
        return (oid.rawValue >> 16, low >> 6, 1 << UInt64(low & 63))
    }
}
