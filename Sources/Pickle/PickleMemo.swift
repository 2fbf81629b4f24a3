/// The unpickler's memo: what `PUT`/`BINPUT`/`LONG_BINPUT`/`MEMOIZE` stored, for `GET`s to fetch.
///
/// Picklers number memo entries 0, 1, 2, … in the order they store them, so keys are dense and an
/// array indexed by key is both the fastest lookup and the smallest table. A key far beyond the
/// entries so far (possible only in a hand-made or damaged pickle: `LONG_BINPUT` takes any 32-bit
/// key) goes to a dictionary instead, so five input bytes can never make the array grow by
/// gigabytes.
struct PickleMemo<Element> {
    private var dense: [Element?] = []
    private var sparse: [Int: Element] = [:]
    /// How far past the dense part one store may extend it.
    private static var maximumGap: Int { 1024 }
    /// Number of distinct keys stored: the key `MEMOIZE` uses next (Python's `len(memo)`).
    private(set) var count = 0

    init() {}

    /// A memo with room for `capacity` dense entries before it grows: a scan
    /// of millions of small records makes one memo per record, and growing
    /// each from empty was an allocation per doubling.
    init(capacity: Int) {
        dense.reserveCapacity(capacity)
    }

    subscript(key: Int) -> Element? {
        if key < dense.count, let element = dense[key] { return element }
        return sparse.isEmpty ? nil : sparse[key]
    }

    mutating func store(_ element: Element, at key: Int) {
        if key < dense.count {
            if dense[key] == nil { count += 1 }
            dense[key] = element
        } else if key - dense.count < Self.maximumGap {
            dense.append(contentsOf: repeatElement(nil, count: key - dense.count))
            dense.append(element)
            if sparse.isEmpty || sparse.removeValue(forKey: key) == nil { count += 1 }
            absorbSparseKeys()
        } else if sparse.updateValue(element, forKey: key) == nil {
            count += 1
        }
    }

    /// Moves sparse entries the dense part now covers, so each key lives in exactly one place.
    private mutating func absorbSparseKeys() {
        guard !sparse.isEmpty else { return }
        for (key, element) in sparse where key < dense.count {
            if dense[key] == nil { dense[key] = element }
            sparse[key] = nil
        }
    }
}

extension PickleMemo: Sendable where Element: Sendable {}
