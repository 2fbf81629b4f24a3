import Pickle
import Storage
import ZODB

/// A working copy of one persistent BTree (`OOBTree`, `OIBTree`) that
/// inserts and deletes exactly as the C implementation does
/// (`BTrees/BTreeTemplate.c: _BTree_set, BTree_grow, BTree_split,
/// BTree_split_root`; `BucketTemplate.c: _bucket_set, bucket_split,
/// Bucket_deleteNextBucket`), so that a tree written here has the buckets,
/// separators and state forms a Python process would have written:
///
/// - a bucket splits at its midpoint (`len / 2`) when it exceeds
///   `maxLeafSize`; the new right half takes the old `next`;
/// - an interior node splits at its midpoint when it has more than
///   `maxInternalSize` children; the root only when it reaches twice that,
///   by moving its contents into a new child and splitting that;
/// - deletion never rebalances: an emptied bucket or node is unlinked, the
///   bucket before it (found through the left sibling subtree) gets a new
///   `next`, `firstbucket`s are updated, and a separator equal to the
///   deleted key is replaced by the first key of its subtree;
/// - a tree whose only child is a bucket that was never stored on its own
///   keeps it inline (`(((k, v, …),),)`, `BTree_getstate`); once a bucket
///   has an oid it stays a separate record (`((bucket,), bucket)`).
///
/// Nodes are loaded only as the operations walk to them, and only the
/// nodes an operation changed are returned by `changedObjects`, so an
/// addition to a large folder rewrites one bucket (plus the nodes a split
/// touches). New nodes get oids only when `changedObjects` writes a
/// reference to them, as ZODB assigns oids when it pickles the referrer.
/// Unreachable nodes (emptied buckets) are not returned; ZODB would store
/// them as garbage records, which nothing reads.
public struct PersistentBTree {
    public typealias Loader = (OID) throws(RecordError) -> ObjectRecord

    public let family: BTreeFamily
    /// The oid of the tree object itself (the root node).
    public let oid: OID
    let load: Loader
    var slots: [Slot]
    var slotByOID: [OID: Int]
    static let root = 0

    struct Bucket {
        var keys: [PickleValue]
        var values: [PickleValue]
        var next: Int?
    }

    /// An interior node. `keys[i]` separates `children[i - 1]` from
    /// `children[i]`; `keys[0]` is unused, as in the C node's `data[0].key`.
    struct Node {
        var children: [Int]
        var keys: [PickleValue]
        var firstBucket: Int?
    }

    enum Content {
        case unloaded
        case bucket(Bucket)
        case node(Node)
    }

    struct Slot {
        var oid: OID?
        /// Known from the reference or the record; nil only for a
        /// reference without a class that was never followed.
        var objectClass: ClassName?
        /// The reference as the stored state spelled it, written back as is.
        var storedReference: PickleValue?
        var serial: TID?
        var content: Content
        var changed = false
        var detached = false
    }

    /// Opens a stored tree.
    public init(oid: OID, load: @escaping Loader) throws(ContainerEditError) {
        let record: ObjectRecord
        do { record = try load(oid) } catch { throw .record(error) }
        guard let family = BTreeFamily.family(ofTree: record.objectClass) else {
            throw .unexpectedState(oid: oid, expected: "a BTrees OOBTree or OIBTree (found \(record.objectClass))")
        }
        self.family = family
        self.oid = oid
        self.load = load
        self.slots = [Slot(oid: oid, objectClass: record.objectClass, serial: record.tid, content: .unloaded)]
        self.slotByOID = [oid: Self.root]
        let root = try parseNode(record.state, oid: oid)
        slots[Self.root].content = .node(root)
    }

    /// A new, empty tree (state `None`), to be stored under `oid`.
    public init(newTreeWithOID oid: OID, family: BTreeFamily, load: @escaping Loader) {
        self.family = family
        self.oid = oid
        self.load = load
        self.slots = [Slot(oid: oid, objectClass: family.treeClass, serial: nil,
                           content: .node(Node(children: [], keys: [], firstBucket: nil)), changed: true)]
        self.slotByOID = [oid: Self.root]
    }

    public var isEmpty: Bool {
        guard case .node(let root) = slots[Self.root].content else { return true }
        return root.children.isEmpty
    }

    // MARK: - Public operations

    /// `tree.get(key)`.
    public mutating func value(forKey key: PickleValue) throws(ContainerEditError) -> PickleValue? {
        var slot = Self.root
        while true {
            switch try content(slot) {
            case .node(let node):
                if node.children.isEmpty { return nil }
                slot = node.children[try childIndex(node, key, slot)]
            case .bucket(let bucket):
                let (index, found) = try bucketIndex(bucket, key, slot)
                return found ? bucket.values[index] : nil
            case .unloaded:
                preconditionFailure("content(_:) loads")
            }
        }
    }

    /// `tree[key] = value`. Returns true when the key was new.
    @discardableResult
    public mutating func setValue(_ value: PickleValue, forKey key: PickleValue) throws(ContainerEditError) -> Bool {
        try set(Self.root, key, value) == 1
    }

    /// `del tree[key]`, returning the value; nil (and no change) when absent.
    @discardableResult
    public mutating func removeValue(forKey key: PickleValue) throws(ContainerEditError) -> PickleValue? {
        guard let old = try value(forKey: key) else { return nil }
        _ = try set(Self.root, key, nil)
        return old
    }

    /// Every item in key order, following the bucket chain from the root's
    /// `firstbucket` (as `tree.items()` does).
    public mutating func items() throws(ContainerEditError) -> [(key: PickleValue, value: PickleValue)] {
        guard case .node(let root) = try content(Self.root), var next = root.firstBucket else { return [] }
        var result: [(key: PickleValue, value: PickleValue)] = []
        var seen: Set<Int> = []
        while true {
            guard seen.insert(next).inserted else {
                throw .unexpectedState(oid: slots[next].oid ?? oid, expected: "an acyclic bucket chain")
            }
            let bucket = try bucket(next)
            for i in bucket.keys.indices { result.append((bucket.keys[i], bucket.values[i])) }
            guard let following = bucket.next else { return result }
            next = following
        }
    }

    /// The records to store: every reachable node that changed, with the
    /// state `__getstate__` gives it. New nodes get an oid from `allocateOID`
    /// when first referenced. Call once, when the transaction's edits are
    /// done; the nodes count as stored afterwards.
    public mutating func changedObjects(allocateOID: () -> OID) -> [ChangedObject] {
        var queue = slots.indices.filter { slots[$0].changed && !slots[$0].detached && slots[$0].oid != nil }
        var result: [ChangedObject] = []
        var k = 0
        while k < queue.count {
            let s = queue[k]
            k += 1
            for target in referencedSlots(s) where slots[target].oid == nil {
                let newOID = allocateOID()
                slots[target].oid = newOID
                slotByOID[newOID] = target
                queue.append(target)
            }
            let state = stateOf(s)
            let cls = slots[s].objectClass ?? (isBucketSlot(s) ? family.bucketClass : family.treeClass)
            result.append(ChangedObject(oid: slots[s].oid!, objectClass: cls, state: state,
                                        previousSerial: slots[s].serial))
        }
        for s in queue { slots[s].changed = false }
        return result
    }

    // MARK: - _BTree_set

    /// Sets (`value` non-nil) or deletes a key below node `slot`. Returns
    /// C's status: 0 no size change, 1 size changed, 2 size changed and the
    /// subtree's first bucket went away; -1 for a delete of a missing key
    /// (C raises KeyError; nothing was changed).
    mutating func set(_ slot: Int, _ key: PickleValue, _ value: PickleValue?) throws(ContainerEditError) -> Int {
        var node = try self.node(slot)
        if node.children.isEmpty {
            guard value != nil else { return -1 }
            try grow(slot, at: 0)
            node = try self.node(slot)
        }
        let min = try childIndex(node, key, slot)
        let child = node.children[min]
        var changed = false
        var status: Int
        if try isNodeSlot(child) {
            status = try set(child, key, value)
        } else {
            let bucketChanged: Bool
            (status, bucketChanged) = try bucketSet(child, key, value)
            // A single oid-less bucket is part of our own state.
            if bucketChanged && node.children.count == 1 && slots[child].oid == nil {
                changed = true
            }
        }
        if status <= 0 {
            if changed { slots[slot].changed = true }
            return status
        }
        let childLength = try length(child)

        if value != nil {
            let tooBig = try isNodeSlot(child) ? childLength > family.maxInternalSize : childLength > family.maxLeafSize
            if tooBig {
                try grow(slot, at: min)
                changed = true
            }
            if changed { slots[slot].changed = true }
            return status
        }

        // A deletion: the child got smaller. No rebalancing.
        if min > 0 && childLength > 0 {
            if try compare(key, node.keys[min], slot) == 0 {
                let first = try isNodeSlot(child) ? try self.node(child).firstBucket! : child
                node.keys[min] = try bucket(first).keys[0]
                changed = true
            }
        }
        if status == 2 {
            if min > 0 {
                // Not our first bucket: the subtree to the left unlinks it.
                try deleteNextBucket(after: lastBucket(node.children[min - 1]))
                status = 1
            } else {
                node.firstBucket = try self.node(child).firstBucket
                changed = true
            }
        }
        if childLength > 0 {
            setNode(slot, node, changed: changed)
            return status
        }

        // The child became empty: remove it.
        if try !isNodeSlot(child) {
            if min > 0 {
                try deleteNextBucket(after: node.children[min - 1])
            } else {
                node.firstBucket = try bucket(child).next
                status = 2
            }
        }
        slots[child].detached = true
        node.children.remove(at: min)
        node.keys.remove(at: min)
        if !node.keys.isEmpty { node.keys[0] = .none }
        setNode(slot, node, changed: true)
        return status
    }

    /// `_bucket_set`: (status, changed).
    mutating func bucketSet(_ slot: Int, _ key: PickleValue, _ value: PickleValue?) throws(ContainerEditError) -> (Int, Bool) {
        var bucket = try self.bucket(slot)
        let (index, found) = try bucketIndex(bucket, key, slot)
        if found {
            if let value {
                if family.hasIntegerValues && bucket.values[index] == value { return (0, false) }
                bucket.values[index] = value
                setBucket(slot, bucket)
                return (0, true)
            }
            bucket.keys.remove(at: index)
            bucket.values.remove(at: index)
            setBucket(slot, bucket)
            return (1, true)
        }
        guard let value else { return (-1, false) }
        bucket.keys.insert(key, at: index)
        bucket.values.insert(value, at: index)
        setBucket(slot, bucket)
        return (1, true)
    }

    /// `BTree_grow`: split child `index` of `slot` at its midpoint (or give
    /// an empty node its first, empty bucket), then split the node itself
    /// if it has reached twice `maxInternalSize` children (only the root
    /// ever does: every other node is split by its parent first).
    mutating func grow(_ slot: Int, at index: Int) throws(ContainerEditError) {
        var node = try self.node(slot)
        if node.children.isEmpty {
            let bucket = addSlot(.bucket(Bucket(keys: [], values: [], next: nil)), objectClass: family.bucketClass)
            node = Node(children: [bucket], keys: [.none], firstBucket: bucket)
            setNode(slot, node, changed: true)
            return
        }
        let v = node.children[index]
        let e: Int
        let separator: PickleValue
        if try isNodeSlot(v) {
            // BTree_split
            var left = try self.node(v)
            let at = left.children.count / 2
            var right = Node(children: Array(left.children[at...]), keys: Array(left.keys[at...]), firstBucket: nil)
            separator = right.keys[0]
            right.keys[0] = .none
            right.firstBucket = try isNodeSlot(right.children[0]) ? try self.node(right.children[0]).firstBucket : right.children[0]
            left.children.removeSubrange(at...)
            left.keys.removeSubrange(at...)
            setNode(v, left, changed: true)
            e = addSlot(.node(right), objectClass: slots[v].objectClass ?? family.treeClass)
        } else {
            // bucket_split
            var left = try bucket(v)
            let at = left.keys.count / 2
            let right = Bucket(keys: Array(left.keys[at...]), values: Array(left.values[at...]), next: left.next)
            separator = right.keys[0]
            e = addSlot(.bucket(right), objectClass: family.bucketClass)
            left.keys.removeSubrange(at...)
            left.values.removeSubrange(at...)
            left.next = e
            setBucket(v, left)
        }
        node.children.insert(e, at: index + 1)
        node.keys.insert(separator, at: index + 1)
        setNode(slot, node, changed: true)
        if node.children.count >= family.maxInternalSize * 2 {
            try splitRoot(slot)
        }
    }

    /// `BTree_split_root`: the node keeps its identity and gets one new
    /// child holding its former contents, which is then split.
    mutating func splitRoot(_ slot: Int) throws(ContainerEditError) {
        let node = try self.node(slot)
        let child = addSlot(.node(node), objectClass: slots[slot].objectClass ?? family.treeClass)
        setNode(slot, Node(children: [child], keys: [.none], firstBucket: node.firstBucket), changed: true)
        try grow(slot, at: 0)
    }

    /// `BTree_lastBucket`.
    mutating func lastBucket(_ slot: Int) throws(ContainerEditError) -> Int {
        var s = slot
        while try isNodeSlot(s) {
            let node = try self.node(s)
            guard let last = node.children.last else {
                throw .unexpectedState(oid: slots[s].oid ?? oid, expected: "a non-empty BTree node")
            }
            s = last
        }
        return s
    }

    /// `Bucket_deleteNextBucket`: unlink the successor of bucket `slot`.
    mutating func deleteNextBucket(after slot: Int) throws(ContainerEditError) {
        var bucket = try self.bucket(slot)
        guard let successor = bucket.next else { return }
        bucket.next = try self.bucket(successor).next
        setBucket(slot, bucket)
    }

    // MARK: - Searches (BTREE_SEARCH, BUCKET_SEARCH)

    func childIndex(_ node: Node, _ key: PickleValue, _ slot: Int) throws(ContainerEditError) -> Int {
        var lo = 0
        var hi = node.children.count
        var i = hi >> 1
        while i > lo {
            let c = try compare(node.keys[i], key, slot)
            if c < 0 { lo = i } else if c > 0 { hi = i } else { break }
            i = (lo + hi) >> 1
        }
        return i
    }

    func bucketIndex(_ bucket: Bucket, _ key: PickleValue, _ slot: Int) throws(ContainerEditError) -> (Int, Bool) {
        var lo = 0
        var hi = bucket.keys.count
        var i = hi >> 1
        var c = 1
        while lo < hi {
            c = try compare(bucket.keys[i], key, slot)
            if c < 0 { lo = i + 1 } else if c == 0 { break } else { hi = i }
            i = (lo + hi) >> 1
        }
        return (i, c == 0)
    }

    func compare(_ a: PickleValue, _ b: PickleValue, _ slot: Int) throws(ContainerEditError) -> Int {
        guard let c = BTreeKeyOrder.compare(a, b) else {
            throw .unexpectedState(oid: slots[slot].oid ?? oid, expected: "keys Python can order (\(a), \(b))")
        }
        return c
    }

    // MARK: - Slots

    mutating func addSlot(_ content: Content, objectClass: ClassName) -> Int {
        slots.append(Slot(oid: nil, objectClass: objectClass, serial: nil, content: content, changed: true))
        return slots.count - 1
    }

    mutating func setNode(_ slot: Int, _ node: Node, changed: Bool) {
        slots[slot].content = .node(node)
        if changed { slots[slot].changed = true }
    }

    mutating func setBucket(_ slot: Int, _ bucket: Bucket) {
        slots[slot].content = .bucket(bucket)
        slots[slot].changed = true
    }

    mutating func node(_ slot: Int) throws(ContainerEditError) -> Node {
        guard case .node(let node) = try content(slot) else {
            throw .unexpectedState(oid: slots[slot].oid ?? oid, expected: "a \(family.treeClass) node")
        }
        return node
    }

    mutating func bucket(_ slot: Int) throws(ContainerEditError) -> Bucket {
        guard case .bucket(let bucket) = try content(slot) else {
            throw .unexpectedState(oid: slots[slot].oid ?? oid, expected: "a \(family.bucketClass)")
        }
        return bucket
    }

    mutating func length(_ slot: Int) throws(ContainerEditError) -> Int {
        switch try content(slot) {
        case .node(let node): return node.children.count
        case .bucket(let bucket): return bucket.keys.count
        case .unloaded: preconditionFailure("content(_:) loads")
        }
    }

    /// Whether a child is an interior node; the reference's class answers
    /// without loading when it is there (`SameType_Check`).
    mutating func isNodeSlot(_ slot: Int) throws(ContainerEditError) -> Bool {
        switch slots[slot].content {
        case .node: return true
        case .bucket: return false
        case .unloaded:
            if let cls = slots[slot].objectClass { return cls != family.bucketClass }
            if case .node = try content(slot) { return true }
            return false
        }
    }

    func isBucketSlot(_ slot: Int) -> Bool {
        if case .bucket = slots[slot].content { return true }
        return slots[slot].objectClass == family.bucketClass
    }

    /// The slot's content, loading its record the first time.
    mutating func content(_ slot: Int) throws(ContainerEditError) -> Content {
        if case .unloaded = slots[slot].content {
            guard let oid = slots[slot].oid else { preconditionFailure("new nodes are never unloaded") }
            let record: ObjectRecord
            do { record = try load(oid) } catch { throw .record(error) }
            slots[slot].serial = record.tid
            slots[slot].objectClass = record.objectClass
            if record.objectClass == family.bucketClass {
                slots[slot].content = .bucket(try parseBucket(record.state, oid: oid))
            } else if record.objectClass == slots[Self.root].objectClass {
                slots[slot].content = .node(try parseNode(record.state, oid: oid))
            } else {
                throw .unexpectedState(oid: oid, expected: "a \(family.treeClass) node or \(family.bucketClass) (found \(record.objectClass))")
            }
        }
        return slots[slot].content
    }

    // MARK: - States (`BTree_getstate`, `_BTree_setstate`, `bucket_getstate`)

    mutating func parseNode(_ state: PickleValue, oid: OID) throws(ContainerEditError) -> Node {
        if state.isNone { return Node(children: [], keys: [], firstBucket: nil) }
        guard case .tuple(let top) = state, top.count == 1 || top.count == 2, case .tuple(let items) = top[0],
              items.count % 2 == 1 else {
            throw .unexpectedState(oid: oid, expected: "a \(family.treeClass) state")
        }
        var node = Node(children: [], keys: [], firstBucket: nil)
        for i in 0 ..< (items.count + 1) / 2 {
            node.keys.append(i == 0 ? .none : items[2 * i - 1])
            let child = items[2 * i]
            if case .tuple = child {
                // The single bucket of a small tree, stored inline.
                let bucket = try parseBucket(child, oid: oid)
                slots.append(Slot(oid: nil, objectClass: family.bucketClass, serial: nil, content: .bucket(bucket)))
                node.children.append(slots.count - 1)
            } else {
                node.children.append(try referencedSlot(child, in: oid))
            }
        }
        node.firstBucket = top.count == 2 ? try referencedSlot(top[1], in: oid) : node.children[0]
        return node
    }

    mutating func parseBucket(_ state: PickleValue, oid: OID) throws(ContainerEditError) -> Bucket {
        guard case .tuple(let parts) = state, parts.count == 1 || parts.count == 2,
              case .tuple(let items) = parts[0], items.count % 2 == 0 else {
            throw .unexpectedState(oid: oid, expected: "a \(family.bucketClass) state")
        }
        var bucket = Bucket(keys: [], values: [], next: nil)
        bucket.keys.reserveCapacity(items.count / 2)
        bucket.values.reserveCapacity(items.count / 2)
        var i = 0
        while i < items.count {
            bucket.keys.append(items[i])
            bucket.values.append(items[i + 1])
            i += 2
        }
        if parts.count == 2 { bucket.next = try referencedSlot(parts[1], in: oid) }
        return bucket
    }

    mutating func referencedSlot(_ value: PickleValue, in oid: OID) throws(ContainerEditError) -> Int {
        guard let ref = PersistentReference(value), ref.kind == .strong else {
            throw .unexpectedState(oid: oid, expected: "a BTree whose nodes are persistent references")
        }
        if let existing = slotByOID[ref.oid] { return existing }
        slots.append(Slot(oid: ref.oid, objectClass: ref.objectClass, storedReference: value, serial: nil,
                          content: .unloaded))
        slotByOID[ref.oid] = slots.count - 1
        return slots.count - 1
    }

    /// The nodes the state of `slot` refers to (an inline bucket is part of
    /// the state, not a reference).
    func referencedSlots(_ slot: Int) -> [Int] {
        switch slots[slot].content {
        case .bucket(let bucket):
            return bucket.next.map { [$0] } ?? []
        case .node(let node):
            if node.children.isEmpty { return [] }
            if node.children.count == 1, slots[node.children[0]].oid == nil,
               case .bucket = slots[node.children[0]].content {
                return []
            }
            return node.children + [node.firstBucket!]
        case .unloaded:
            return []
        }
    }

    /// `__getstate__` of a node or bucket whose references all have oids.
    func stateOf(_ slot: Int) -> PickleValue {
        func reference(_ target: Int) -> PickleValue {
            let targetOID = slots[target].oid!
            if let stored = slots[target].storedReference { return stored }
            let cls = slots[target].objectClass ?? (isBucketSlot(target) ? family.bucketClass : family.treeClass)
            return .reference(to: targetOID, objectClass: cls)
        }
        func bucketState(_ bucket: Bucket) -> PickleValue {
            var items: [PickleValue] = []
            items.reserveCapacity(bucket.keys.count * 2)
            for i in bucket.keys.indices {
                items.append(bucket.keys[i])
                items.append(bucket.values[i])
            }
            if let next = bucket.next { return .tuple([.tuple(items), reference(next)]) }
            return .tuple([.tuple(items)])
        }
        switch slots[slot].content {
        case .bucket(let bucket):
            return bucketState(bucket)
        case .node(let node):
            if node.children.isEmpty { return .none }
            if node.children.count == 1, slots[node.children[0]].oid == nil,
               case .bucket(let only) = slots[node.children[0]].content {
                return .tuple([.tuple([bucketState(only)])])
            }
            var items: [PickleValue] = []
            items.reserveCapacity(node.children.count * 2 - 1)
            for (i, child) in node.children.enumerated() {
                if i > 0 { items.append(node.keys[i]) }
                items.append(reference(child))
            }
            return .tuple([.tuple(items), reference(node.firstBucket!)])
        case .unloaded:
            preconditionFailure("a changed node is loaded")
        }
    }
}
