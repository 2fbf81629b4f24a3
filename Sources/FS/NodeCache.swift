import Storage
import ZODB

/// Decoded nodes by oid, each valid for the revisions it was built from.
///
/// Concurrency: one mutex guards the maps; it is never held across storage
/// I/O. A miss loads outside the lock (two threads missing at once both
/// load — harmless, the values are equal), so a commit can be applied, or
/// the follower can drop what a transaction changed, while a load runs: the
/// node then loaded may predate that transaction, or be a mixture of
/// records from before and after it (a bucket split half seen). Such a
/// node must not be cached — nothing would drop it later, and a name just
/// created would stay missing (ENOENT) or a removed one stay listed
/// (EEXIST) until the folder changed again. Every change is therefore
/// numbered and its records kept in a short log; a load is cached only if
/// no change since its start touched a record it was built from, and is
/// otherwise loaded again.
final class NodeCache: Sendable {
    struct State {
        var nodes: [OID: Node] = [:]
        /// For each record oid, the nodes built from it (a bucket → its BTreeFolder2).
        var dependents: [OID: Set<OID>] = [:]
        /// `meta_type` of children as their parents' `_objects` record it.
        var metaTypes: [OID: String] = [:]
        /// The number of the last change applied (a commit or a followed transaction).
        var generation: UInt64 = 0
        /// The records of the last changes, oldest first, at most ``changeLogLength``.
        var changes: [(generation: UInt64, oids: [OID])] = []
    }

    /// How many changes a load may overlap and still be checked; a load that
    /// overlaps more (rare: hundreds of commits during one load) is not
    /// cached.
    static let changeLogLength = 1024
    /// After this many loads of one node, each overlapped by a change to its
    /// records, the last is returned without being cached rather than
    /// loading again and again while its folder is busy.
    static let loadAttempts = 8

    let state = Guarded(State())
    /// Upper bound on cached nodes; past it the cache is cleared wholesale
    /// (cheap, and a directory tree's hot part refills at once).
    private let capacity: Int

    init(capacity: Int = 200_000) {
        self.capacity = capacity
    }

    func node(_ oid: OID, loader: ObjectLoader, stats: Statistics) throws(FSError) -> Node {
        var attempt = 0
        while true {
            let (hit, start) = state.withLock { ($0.nodes[oid], $0.generation) }
            if let hit {
                stats.cacheHits.add(1, ordering: .relaxed)
                return hit
            }
            stats.cacheMisses.add(1, ordering: .relaxed)
            let node = try Node.load(oid, loader: loader)
            attempt += 1
            if insert(node, loadedAfter: start) || attempt == Self.loadAttempts { return node }
        }
    }

    /// Caches `node`, loaded from the records current after change number
    /// `generation`, unless a later change touched one of those records.
    /// Returns whether it was cached.
    func insert(_ node: Node, loadedAfter generation: UInt64) -> Bool {
        state.withLock { s in
            if s.generation != generation {
                guard let oldest = s.changes.first?.generation, oldest <= generation + 1 else { return false }
                for change in s.changes.reversed() {
                    if change.generation <= generation { break }
                    if change.oids.contains(where: { node.sources[$0] != nil }) { return false }
                }
            }
            if s.nodes.count >= capacity {
                s.nodes.removeAll(keepingCapacity: true)
                s.dependents.removeAll(keepingCapacity: true)
            }
            s.nodes[node.oid] = node
            for source in node.sources.keys {
                s.dependents[source, default: []].insert(node.oid)
            }
            if case .directory(let entries, _) = node.content {
                for entry in entries {
                    if let metaType = entry.metaType { s.metaTypes[entry.oid] = metaType }
                }
            }
            return true
        }
    }

    /// Drops every node built from one of `changed`, returning the dropped
    /// nodes as they were (the follower diffs old listings against new ones).
    func invalidate(_ changed: some Sequence<OID>) -> [Node] {
        state.withLock { s in
            s.record(Array(changed))
            var dropped: [Node] = []
            for oid in changed {
                var affected = s.dependents.removeValue(forKey: oid) ?? []
                affected.insert(oid)
                for nodeOID in affected {
                    if let node = s.nodes.removeValue(forKey: nodeOID) {
                        dropped.append(node)
                    }
                }
            }
            return dropped
        }
    }

    /// The `meta_type` a listed parent recorded for `oid`, if any.
    func metaType(of oid: OID) -> String? {
        state.withLock { $0.metaTypes[oid] }
    }

    func cached(_ oid: OID) -> Node? {
        state.withLock { $0.nodes[oid] }
    }
}

extension NodeCache {
    /// Brings the cache up to a transaction this process committed: nodes
    /// built from a written record are dropped, except the listings of
    /// `listings`' folders, which are patched with the changes — if the
    /// cached listing is exactly the one the transaction was built on
    /// (every written record it was built from has the serial the
    /// transaction expected). Check, patch and drop happen under one lock,
    /// so concurrent commits to one folder patch one after the other or
    /// fall back to a reload.
    ///
    /// `rebuilt` are nodes made from the records the transaction wrote;
    /// each replaces its cached node if `isCurrent` says its record is still
    /// the newest (checked under the lock, so a later commit's own call,
    /// which comes after its write, always wins).
    func apply(written: [OID: TID?], tid: TID, listings: [OID: [ContainerChange]], rebuilt: [Node] = [],
               isCurrent: (OID) -> Bool = { _ in false }) {
        state.withLock { s in
            s.record(Array(written.keys))
            var patched: [Node] = rebuilt.filter { isCurrent($0.oid) }
            for (folder, changes) in listings {
                guard let node = s.nodes[folder], written[folder] == nil,
                      let updated = node.applying(changes, tid: tid, written: written) else { continue }
                patched.append(updated)
            }
            for oid in written.keys {
                var affected = s.dependents.removeValue(forKey: oid) ?? []
                affected.insert(oid)
                for nodeOID in affected { s.nodes.removeValue(forKey: nodeOID) }
            }
            for node in patched {
                s.nodes[node.oid] = node
                for source in node.sources.keys { s.dependents[source, default: []].insert(node.oid) }
                for change in listings[node.oid] ?? [] {
                    if case .add(_, let oid, _, let metaType) = change { s.metaTypes[oid] = metaType }
                }
            }
        }
    }
}

extension NodeCache.State {
    /// Numbers a change to `oids` and logs it for the loads it overlaps.
    mutating func record(_ oids: [OID]) {
        generation += 1
        if changes.count == NodeCache.changeLogLength { changes.removeFirst(changes.count / 2) }
        changes.append((generation, oids))
    }
}
