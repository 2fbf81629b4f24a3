extension RandomAccessCollection where Index == Int {
    /// Binary search in a collection ordered so that `isPast` is false for a
    /// prefix of it and true for the rest: the index of the first element
    /// past that prefix (`endIndex` when there is none).
    ///
    /// The one search over sorted arrays the storage makes — the index's
    /// prefixes and suffixes, the pack's transaction starts, a run's edits —
    /// with the question as a closure: `{ $0 >= value }` finds the first
    /// element not below `value`, `{ $0 > value }` the first past it.
    @inline(__always)
    func partitionPoint(where isPast: (Element) -> Bool) -> Int {
        var low = startIndex
        var high = endIndex
        while low < high {
            let middle = (low + high) >> 1
            if isPast(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
