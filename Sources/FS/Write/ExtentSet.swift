/// The byte ranges of a file that were written since its last commit: the
/// parts a commit takes from the spool rather than from the stored revision.
///
/// Kept sorted and coalesced, so a file written front to back is one extent
/// however many `write` calls it took, and a lookup is a binary search.
struct ExtentSet: Sendable, Equatable {
    private(set) var extents: [Range<UInt64>] = []

    var isEmpty: Bool { extents.isEmpty }

    /// Adds `range`, merging it with every extent it overlaps or touches.
    mutating func insert(_ range: Range<UInt64>) {
        guard !range.isEmpty else { return }
        var lower = range.lowerBound
        var upper = range.upperBound
        // First extent that ends at or after `lower` (touching counts).
        let first = firstIndex(endingAtOrAfter: lower)
        var last = first
        while last < extents.count, extents[last].lowerBound <= upper {
            lower = min(lower, extents[last].lowerBound)
            upper = max(upper, extents[last].upperBound)
            last += 1
        }
        extents.replaceSubrange(first..<last, with: [lower..<upper])
    }

    /// Forgets everything at or after `offset` (a truncation).
    mutating func removeAll(from offset: UInt64) {
        while let tail = extents.last, tail.upperBound > offset {
            extents.removeLast()
            if tail.lowerBound < offset { extents.append(tail.lowerBound..<offset) }
        }
    }

    func intersects(_ range: Range<UInt64>) -> Bool {
        let i = firstIndex(endingAtOrAfter: range.lowerBound + 1)
        return i < extents.count && extents[i].lowerBound < range.upperBound && !range.isEmpty
    }

    /// True when `range` lies entirely inside one extent.
    func covers(_ range: Range<UInt64>) -> Bool {
        guard !range.isEmpty else { return true }
        let i = firstIndex(endingAtOrAfter: range.lowerBound + 1)
        return i < extents.count && extents[i].lowerBound <= range.lowerBound
            && extents[i].upperBound >= range.upperBound
    }

    /// `range` cut into consecutive pieces, each wholly written or wholly not.
    func pieces(of range: Range<UInt64>) -> [(range: Range<UInt64>, written: Bool)] {
        var result: [(Range<UInt64>, Bool)] = []
        var cursor = range.lowerBound
        var i = firstIndex(endingAtOrAfter: cursor + 1)
        while cursor < range.upperBound {
            guard i < extents.count, extents[i].lowerBound < range.upperBound else {
                result.append((cursor..<range.upperBound, false))
                break
            }
            let extent = extents[i]
            if extent.lowerBound > cursor {
                result.append((cursor..<extent.lowerBound, false))
                cursor = extent.lowerBound
            }
            let end = min(extent.upperBound, range.upperBound)
            result.append((cursor..<end, true))
            cursor = end
            i += 1
        }
        return result
    }

    /// Index of the first extent whose upper bound is ≥ `offset`.
    private func firstIndex(endingAtOrAfter offset: UInt64) -> Int {
        var lo = 0, hi = extents.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if extents[mid].upperBound < offset { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
