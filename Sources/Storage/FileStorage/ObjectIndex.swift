/// The map from each oid to the position of its newest data record, laid out
/// like ZODB's `fsIndex`: oids are split into a 6-byte prefix and a 2-byte
/// suffix, and each prefix has a *bucket* of sorted suffixes with their
/// positions in a parallel array.
///
/// Compared with `[OID: UInt64]` this takes about 10 bytes per oid instead of
/// 20–30, needs no hashing, iterates in oid order (so saving the `.index` file
/// needs no sort), and loads a `.index` file — which stores exactly these
/// buckets — with sequential copies.
///
/// Oids are handed out in increasing order, so a scan mostly appends to the
/// last bucket or updates an existing entry. Oids that arrive out of order
/// (a packed file lists objects by the transaction of their current revision)
/// wait in a small sorted side run per bucket, merged in when it grows, so
/// that building an index stays fast in any order.
public struct ObjectIndex: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    struct Bucket: Sendable {
        var suffixes: [UInt16] = []
        var positions: [UInt64] = []
        /// Out-of-order insertions, sorted, disjoint from `suffixes`.
        var pendingSuffixes: [UInt16] = []
        var pendingPositions: [UInt64] = []
    }

    /// Side runs are merged into their bucket when they reach this size.
    private static let pendingLimit = 512

    /// The prefixes (`oid >> 16`), ascending, parallel to `buckets`.
    private var prefixes: [UInt64] = []
    private var buckets: [Bucket] = []
    /// The number of oids.
    public private(set) var count = 0

    /// An empty index.
    public init() {}

    /// An index holding the entries of `dictionary`.
    public init(_ dictionary: [OID: UInt64]) {
        for (oid, position) in dictionary.sorted(by: { $0.key < $1.key }) { updateValue(position, forKey: oid) }
    }

    public init(dictionaryLiteral elements: (OID, UInt64)...) {
        for (oid, position) in elements { updateValue(position, forKey: oid) }
    }

    /// True when there is no oid.
    public var isEmpty: Bool { count == 0 }

    /// The position of the newest data record of `oid`.
    public subscript(oid: OID) -> UInt64? {
        guard let b = bucketIndex(oid.rawValue >> 16) else { return nil }
        let suffix = UInt16(truncatingIfNeeded: oid.rawValue)
        let bucket = buckets[b]
        if let i = Self.search(bucket.suffixes, suffix) { return bucket.positions[i] }
        if let i = Self.search(bucket.pendingSuffixes, suffix) { return bucket.pendingPositions[i] }
        return nil
    }

    /// Sets the position of `oid`.
    ///
    /// - Returns: the position it replaced, nil if the oid is new.
    @discardableResult
    public mutating func updateValue(_ position: UInt64, forKey oid: OID) -> UInt64? {
        let prefix = oid.rawValue >> 16
        let suffix = UInt16(truncatingIfNeeded: oid.rawValue)
        let b: Int
        if let last = prefixes.last, last == prefix {
            b = prefixes.count - 1
        } else {
            let (found, at) = Self.lowerBound(prefixes, prefix)
            if !found {
                prefixes.insert(prefix, at: at)
                buckets.insert(Bucket(), at: at)
            }
            b = at
        }
        let (old, added) = buckets[b].update(suffix, position, pendingLimit: Self.pendingLimit)
        if added { count += 1 }
        return old
    }

    /// The largest oid, nil when empty (ZODB's `maxKey()`: new oids follow it).
    public var maxOID: OID? {
        guard let prefix = prefixes.last, let bucket = buckets.last else { return nil }
        let suffix = Swift.max(bucket.suffixes.last ?? 0, bucket.pendingSuffixes.last ?? 0)
        return OID(rawValue: prefix << 16 | UInt64(suffix))
    }

    /// The entries as a dictionary.
    public var dictionary: [OID: UInt64] {
        var result: [OID: UInt64] = [:]
        result.reserveCapacity(count)
        for (oid, position) in self { result[oid] = position }
        return result
    }

    public var description: String { "ObjectIndex(\(count) oids)" }

    public static func == (lhs: ObjectIndex, rhs: ObjectIndex) -> Bool {
        lhs.count == rhs.count && lhs.elementsEqual(rhs, by: { $0.oid == $1.oid && $0.position == $1.position })
    }

    // MARK: - Iteration in oid order

    public struct Iterator: IteratorProtocol {
        private let index: ObjectIndex
        private var bucket = 0
        private var main = 0
        private var pending = 0

        init(_ index: ObjectIndex) { self.index = index }

        public mutating func next() -> (oid: OID, position: UInt64)? {
            while bucket < index.buckets.count {
                let b = index.buckets[bucket]
                let prefix = index.prefixes[bucket] << 16
                let hasMain = main < b.suffixes.count
                let hasPending = pending < b.pendingSuffixes.count
                if hasMain && (!hasPending || b.suffixes[main] < b.pendingSuffixes[pending]) {
                    defer { main += 1 }
                    return (OID(rawValue: prefix | UInt64(b.suffixes[main])), b.positions[main])
                }
                if hasPending {
                    defer { pending += 1 }
                    return (OID(rawValue: prefix | UInt64(b.pendingSuffixes[pending])), b.pendingPositions[pending])
                }
                bucket += 1
                main = 0
                pending = 0
            }
            return nil
        }
    }

    public func makeIterator() -> Iterator { Iterator(self) }

    /// Calls `body` with each prefix and its bucket's suffixes and positions,
    /// in oid order: the shape of the `.index` file.
    func forEachBucket(_ body: (_ prefix: UInt64, _ suffixes: [UInt16], _ positions: [UInt64]) throws(StorageError) -> Void) throws(StorageError) {
        for (prefix, bucket) in zip(prefixes, buckets) {
            if bucket.pendingSuffixes.isEmpty {
                try body(prefix, bucket.suffixes, bucket.positions)
            } else {
                var merged = bucket
                merged.mergePending()
                try body(prefix, merged.suffixes, merged.positions)
            }
        }
    }

    /// Adds a whole bucket read from a `.index` file. Buckets arrive in
    /// ascending prefix order with sorted suffixes; anything else is inserted
    /// entry by entry.
    mutating func appendBucket(prefix: UInt64, suffixes: [UInt16], positions: [UInt64]) {
        let sorted = zip(suffixes, suffixes.dropFirst()).allSatisfy { $0 < $1 }
        if sorted, !suffixes.isEmpty, prefixes.last.map({ $0 < prefix }) ?? true {
            prefixes.append(prefix)
            buckets.append(Bucket(suffixes: suffixes, positions: positions))
            count += suffixes.count
        } else {
            for (suffix, position) in zip(suffixes, positions) {
                updateValue(position, forKey: OID(rawValue: prefix << 16 | UInt64(suffix)))
            }
        }
    }

    // MARK: - Searching

    private func bucketIndex(_ prefix: UInt64) -> Int? {
        if let last = prefixes.last, last == prefix { return prefixes.count - 1 }
        let (found, at) = Self.lowerBound(prefixes, prefix)
        return found ? at : nil
    }

    @inline(__always)
    static func lowerBound<T: Comparable>(_ array: [T], _ value: T) -> (found: Bool, index: Int) {
        let low = array.partitionPoint { $0 >= value }
        return (low < array.count && array[low] == value, low)
    }

    @inline(__always)
    static func search(_ array: [UInt16], _ value: UInt16) -> Int? {
        let (found, at) = lowerBound(array, value)
        return found ? at : nil
    }
}

extension ObjectIndex.Bucket {
    /// Sets `suffix` to `position`.
    ///
    /// - Returns: the position replaced, and whether the suffix is new.
    @inline(__always)
    mutating func update(_ suffix: UInt16, _ position: UInt64, pendingLimit: Int) -> (old: UInt64?, added: Bool) {
        // Fast path: a new largest suffix (oids are allocated in increasing order).
        if let last = suffixes.last, suffix > last, pendingSuffixes.isEmpty {
            suffixes.append(suffix)
            positions.append(position)
            return (nil, true)
        }
        let (found, at) = ObjectIndex.lowerBound(suffixes, suffix)
        if found {
            defer { positions[at] = position }
            return (positions[at], false)
        }
        let (pendingFound, pendingAt) = ObjectIndex.lowerBound(pendingSuffixes, suffix)
        if pendingFound {
            defer { pendingPositions[pendingAt] = position }
            return (pendingPositions[pendingAt], false)
        }
        if at == suffixes.count {
            suffixes.append(suffix)
            positions.append(position)
        } else {
            pendingSuffixes.insert(suffix, at: pendingAt)
            pendingPositions.insert(position, at: pendingAt)
            if pendingSuffixes.count >= pendingLimit { mergePending() }
        }
        return (nil, true)
    }

    /// Merges the side run into the sorted arrays.
    mutating func mergePending() {
        guard !pendingSuffixes.isEmpty else { return }
        let total = suffixes.count + pendingSuffixes.count
        var mergedSuffixes: [UInt16] = []
        var mergedPositions: [UInt64] = []
        mergedSuffixes.reserveCapacity(total)
        mergedPositions.reserveCapacity(total)
        var i = 0
        var j = 0
        while i < suffixes.count || j < pendingSuffixes.count {
            if j == pendingSuffixes.count || (i < suffixes.count && suffixes[i] < pendingSuffixes[j]) {
                mergedSuffixes.append(suffixes[i])
                mergedPositions.append(positions[i])
                i += 1
            } else {
                mergedSuffixes.append(pendingSuffixes[j])
                mergedPositions.append(pendingPositions[j])
                j += 1
            }
        }
        suffixes = mergedSuffixes
        positions = mergedPositions
        pendingSuffixes.removeAll()
        pendingPositions.removeAll()
    }
}
