import Pickle
import Storage
import ZODB

/// Iterates the items of a persistent `BTrees.OOBTree` in key order
/// (`BTrees/BTreeTemplate.c: BTree_getstate`, `BucketTemplate.c`;
/// zodb_formats §6.8). Tree states:
/// - empty tree: `None`;
/// - small tree with one inline bucket: `(((k0, v0, k1, v1, …),),)`;
/// - otherwise `((child0, key1, child1, …), firstbucket)`: the leaves are
///   linked, so walking from `firstbucket` through each bucket's `next`
///   visits every item in order without touching interior nodes.
/// Bucket states: `((k0, v0, …),)` or `((k0, v0, …), next_bucket)`.
public struct OOBTreeWalker: Sendable {
    public let loader: ObjectLoader

    public init(loader: ObjectLoader) {
        self.loader = loader
    }

    /// Every (key, value) pair, plus the tid of every record read.
    public func items(tree oid: OID) throws(RecordError) -> (items: [(PickleValue, PickleValue)], sources: [OID: TID]) {
        var sources: [OID: TID] = [:]
        let tree = try loader.load(oid)
        sources[oid] = tree.tid
        var items: [(PickleValue, PickleValue)] = []
        guard let top = tree.state.tupleElements else {
            if tree.state.isNone { return ([], sources) }
            throw .unexpectedState(oid: oid, expected: "an OOBTree state")
        }
        if top.count == 1, let inner = top[0].tupleElements, inner.count == 1,
           let bucket = inner[0].tupleElements, let flat = bucket.first?.tupleElements {
            try Self.append(flat, to: &items, oid: oid)
            return (items, sources)
        }
        guard top.count == 2, var next = PersistentReference(top[1])?.oid else {
            throw .unexpectedState(oid: oid, expected: "an OOBTree state")
        }
        var seen: Set<OID> = []
        while true {
            guard seen.insert(next).inserted else {
                throw .unexpectedState(oid: next, expected: "an acyclic bucket chain")
            }
            let bucket = try loader.load(next)
            sources[next] = bucket.tid
            guard let parts = bucket.state.tupleElements, let flat = parts.first?.tupleElements else {
                throw .unexpectedState(oid: next, expected: "an OOBucket state")
            }
            try Self.append(flat, to: &items, oid: next)
            guard parts.count > 1, let following = PersistentReference(parts[1])?.oid else { break }
            next = following
        }
        return (items, sources)
    }

    static func append(_ flat: [PickleValue], to items: inout [(PickleValue, PickleValue)], oid: OID) throws(RecordError) {
        guard flat.count % 2 == 0 else { throw .unexpectedState(oid: oid, expected: "key/value pairs") }
        items.reserveCapacity(items.count + flat.count / 2)
        var i = 0
        while i < flat.count {
            items.append((flat[i], flat[i + 1]))
            i += 2
        }
    }
}
