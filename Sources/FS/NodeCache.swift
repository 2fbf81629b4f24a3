import Storage
import Synchronization
import ZODB

/// Decoded nodes by oid, each valid for the revisions it was built from.
///
/// Concurrency: one mutex guards the two maps; it is never held across
/// storage I/O (a miss loads outside the lock, and two threads missing at
/// once both load — harmless, the values are equal). The cache is
/// read-mostly: FUSE workers fill it, the follower drops entries when new
/// transactions arrive.
final class NodeCache: Sendable {
    struct State {
        var nodes: [OID: Node] = [:]
        /// For each record oid, the nodes built from it (a bucket → its BTreeFolder2).
        var dependents: [OID: Set<OID>] = [:]
        /// `meta_type` of children as their parents' `_objects` record it.
        var metaTypes: [OID: String] = [:]
    }

    let state = Mutex(State())
    /// Upper bound on cached nodes; past it the cache is cleared wholesale
    /// (cheap, and a directory tree's hot part refills at once).
    private let capacity: Int

    init(capacity: Int = 200_000) {
        self.capacity = capacity
    }

    func node(_ oid: OID, loader: ObjectLoader, stats: Statistics) throws(FSError) -> Node {
        if let hit = state.withLock({ $0.nodes[oid] }) {
            stats.cacheHits.add(1, ordering: .relaxed)
            return hit
        }
        stats.cacheMisses.add(1, ordering: .relaxed)
        let node = try Node.load(oid, loader: loader)
        state.withLock { s in
            if s.nodes.count >= capacity {
                s.nodes.removeAll(keepingCapacity: true)
                s.dependents.removeAll(keepingCapacity: true)
            }
            s.nodes[oid] = node
            for source in node.sources.keys {
                s.dependents[source, default: []].insert(oid)
            }
            if case .directory(let entries, _) = node.content {
                for entry in entries {
                    if let metaType = entry.metaType { s.metaTypes[entry.oid] = metaType }
                }
            }
        }
        return node
    }

    /// Drops every node built from one of `changed`, returning the dropped
    /// nodes as they were (the follower diffs old listings against new ones).
    func invalidate(_ changed: some Sequence<OID>) -> [Node] {
        state.withLock { s in
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
