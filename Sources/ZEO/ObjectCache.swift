import Storage

/// The client's cache of current object revisions, bounded in bytes: what
/// ZEO's `ClientCache` is to Zope, kept in memory (the kernel's page cache
/// already holds the file bytes a mount serves again).
///
/// Eviction is by two generations, an O(1) stand-in for LRU: entries live
/// in `young` until it holds half the budget; then `young` becomes `old`
/// and the previous `old` is dropped. A hit in `old` moves the entry back
/// to `young`, so what is used stays and what was not used for one whole
/// generation goes.
///
/// Not thread-safe by itself: ``ZEOStorage`` owns it behind its mutex, and
/// every change to it comes from the connection's event loop, in the order
/// of the server's messages (see ``ZEOStorage``).
struct ObjectCache {
    struct Entry {
        /// Nil when only the serial is known: a large record this client
        /// committed itself is not kept, but its serial answers
        /// `currentSerial` without a round trip.
        var data: [UInt8]?
        var tid: TID
        var size: Int { data?.count ?? 0 }
    }

    let budget: Int
    private var young: [OID: Entry] = [:]
    private var old: [OID: Entry] = [:]
    private var youngBytes = 0
    private(set) var hits = 0
    private(set) var misses = 0

    init(budget: Int) { self.budget = max(budget, 0) }

    var count: Int { young.count + old.count }
    var bytes: Int { youngBytes + old.values.reduce(0) { $0 + $1.size } }

    mutating func lookUp(_ oid: OID) -> Entry? {
        if let entry = young[oid] {
            hits += 1
            return entry
        }
        if let entry = old.removeValue(forKey: oid) {
            hits += 1
            insert(oid, entry)
            return entry
        }
        misses += 1
        return nil
    }

    /// Whether `oid`'s record is held (for prefetching; not counted as a hit or miss).
    func holds(_ oid: OID) -> Bool {
        held(oid)?.data != nil
    }

    /// `oid`'s entry without counting a hit or a miss (a second look by a
    /// load that already counted its miss).
    func held(_ oid: OID) -> Entry? {
        young[oid] ?? old[oid]
    }

    mutating func store(_ oid: OID, data: [UInt8]?, tid: TID) {
        old.removeValue(forKey: oid)
        insert(oid, Entry(data: data, tid: tid))
    }

    mutating func invalidate(_ oid: OID) {
        if let gone = young.removeValue(forKey: oid) { youngBytes -= gone.size }
        old.removeValue(forKey: oid)
    }

    mutating func clear() {
        young = [:]
        old = [:]
        youngBytes = 0
    }

    private mutating func insert(_ oid: OID, _ entry: Entry) {
        var entry = entry
        if entry.size > budget / 4 { entry.data = nil }
        if let replaced = young.updateValue(entry, forKey: oid) { youngBytes -= replaced.size }
        youngBytes += entry.size
        // Entries without data still cost memory: bound their number too.
        if youngBytes > budget / 2 || young.count > max(1024, budget / 256) {
            old = young
            young = [:]
            youngBytes = 0
        }
    }
}
