import ZODB

/// The node sizes and classes of one BTrees flavour, as the C module sets
/// them (`BTrees/_datatypes.py`, `_module_builder.py`; checked against
/// `OOBTree.max_leaf_size` etc. of BTrees 6): a bucket splits when it holds
/// more than `maxLeafSize` items, an interior node when it has more than
/// `maxInternalSize` children, the root only at twice that
/// (`BTreeTemplate.c: _BTree_set`, `BTree_grow`).
public struct BTreeFamily: Sendable, Hashable {
    public var treeClass: ClassName
    public var bucketClass: ClassName
    public var maxLeafSize: Int
    public var maxInternalSize: Int
    /// Integer values (`OI`): storing the value a key already has changes
    /// nothing (`VALUE_SAME`); object values are always replaced.
    public var hasIntegerValues: Bool

    public init(treeClass: ClassName, bucketClass: ClassName, maxLeafSize: Int, maxInternalSize: Int,
                hasIntegerValues: Bool) {
        self.treeClass = treeClass
        self.bucketClass = bucketClass
        self.maxLeafSize = maxLeafSize
        self.maxInternalSize = maxInternalSize
        self.hasIntegerValues = hasIntegerValues
    }

    /// `BTrees.OOBTree.OOBTree`: BTreeFolder2's `_tree` and `_mt_index`.
    public static let objectObject = BTreeFamily(
        treeClass: ClassName(module: "BTrees.OOBTree", name: "OOBTree"),
        bucketClass: ClassName(module: "BTrees.OOBTree", name: "OOBucket"),
        maxLeafSize: 30, maxInternalSize: 250, hasIntegerValues: false)

    /// `BTrees.OIBTree.OIBTree`: the id sets of BTreeFolder2's `_mt_index`.
    public static let objectInteger = BTreeFamily(
        treeClass: ClassName(module: "BTrees.OIBTree", name: "OIBTree"),
        bucketClass: ClassName(module: "BTrees.OIBTree", name: "OIBucket"),
        maxLeafSize: 60, maxInternalSize: 250, hasIntegerValues: true)

    public static func family(ofTree treeClass: ClassName) -> BTreeFamily? {
        [objectObject, objectInteger].first { $0.treeClass == treeClass }
    }
}
