import Foundation
@testable import OFS
import Pickle
import Storage
import TestSupport
import Testing
import ZODB

/// `PersistentBTree` builds the same trees as Python's BTrees: the same
/// buckets and separators after any sequence of insertions and deletions
/// (compared with the C implementation through `btree_layout.py`), the
/// same state forms, and it rewrites only the nodes an edit touches.
@Suite struct PersistentBTreeTests {
    /// SplitMix64: a seeded generator, so every run tests the same sequences.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    struct Scenario: CustomTestStringConvertible, Sendable {
        var name: String
        var familyName: String
        var ops: [[String]]
        /// Store the changes and reopen the tree from the store after this
        /// many operations (nil: one transaction for everything).
        var commitEvery: Int?
        var testDescription: String { name }
        var family: BTreeFamily { familyName == "OO" ? .objectObject : .objectInteger }
    }

    static func keys(_ n: Int) -> [String] { (0 ..< n).map { String(format: "k%05d", $0) } }

    static let scenarios: [Scenario] = {
        var rng = SeededGenerator(state: 42)
        var result: [Scenario] = []

        let sorted = keys(20_000)
        var ops = sorted.map { ["+", $0] } + [["="]]
        for (i, key) in sorted.enumerated() {
            ops.append(["-", key])
            if i % 4_000 == 3_999 { ops.append(["="]) }
        }
        result.append(Scenario(name: "OO 20000 sorted inserts, sorted deletes", familyName: "OO", ops: ops,
                               commitEvery: 2_500))

        ops = sorted.reversed().map { ["+", $0] } + [["="]]
        result.append(Scenario(name: "OO 20000 reverse-sorted inserts", familyName: "OO", ops: ops, commitEvery: nil))

        let shuffled = sorted.shuffled(using: &rng)
        ops = shuffled.map { ["+", $0] } + [["="]]
        for (i, key) in sorted.shuffled(using: &rng).enumerated() {
            ops.append(["-", key])
            if i % 2_500 == 2_499 { ops.append(["="]) }
            if i % 7 == 0 { ops.append(["+", key + "x"]) }
        }
        result.append(Scenario(name: "OO 20000 random inserts, random deletes", familyName: "OO", ops: ops,
                               commitEvery: 997))

        // Code point order: Python compares str by code point, Swift's `<` would not.
        let alphabet = Array("aZé日本😀\u{301}e_-. ")
        var texts: Set<String> = []
        while texts.count < 3_000 {
            texts.insert(String((0 ..< Int.random(in: 1 ... 6, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }))
        }
        ops = Array(texts).shuffled(using: &rng).map { ["+", $0] } + [["="]]
        ops += Array(texts).shuffled(using: &rng).prefix(2_000).map { ["-", $0] } + [["="]]
        result.append(Scenario(name: "OO 3000 non-ASCII keys", familyName: "OO", ops: ops, commitEvery: 500))

        ops = keys(6_000).shuffled(using: &rng).map { ["+", $0] } + [["="]]
        ops += keys(6_000).shuffled(using: &rng).prefix(5_900).map { ["-", $0] } + [["="]]
        result.append(Scenario(name: "OI 6000 random inserts, 5900 deletes", familyName: "OI", ops: ops,
                               commitEvery: 300))
        return result
    }()

    @Test(arguments: scenarios)
    func sameLayoutAsPythonBTrees(_ scenario: Scenario) throws {
        let expected = try pythonLayouts(family: scenario.familyName, ops: scenario.ops)
        let store = MemoryStore(firstOID: 2)
        let treeOID = OID(1)
        var tree = PersistentBTree(newTreeWithOID: treeOID, family: scenario.family, load: store.load)
        var model: Set<String> = []
        var snapshots: [BTreeLayout] = []
        for (i, op) in scenario.ops.enumerated() {
            switch op[0] {
            case "+":
                let value: PickleValue = scenario.familyName == "OO" ? .int(Int64(i)) : .int(1)
                #expect(try tree.setValue(value, forKey: .string(op[1])) == model.insert(op[1]).inserted)
            case "-":
                #expect(try tree.removeValue(forKey: .string(op[1])) != nil)
                model.remove(op[1])
            default:
                try tree.checkInvariants()
                snapshots.append(try tree.layout())
                let keys = try tree.items().map { $0.key.stringValue! }
                #expect(keys == model.sorted { BTreeKeyOrder.compare(.string($0), .string($1))! < 0 })
            }
            if let every = scenario.commitEvery, i % every == every - 1 {
                store.commit(tree.changedObjects(allocateOID: store.allocate))
                tree = try PersistentBTree(oid: treeOID, load: store.load)
            }
        }
        #expect(snapshots.count == expected.count)
        for (i, (ours, theirs)) in zip(snapshots, expected).enumerated() {
            #expect(ours == theirs, "snapshot \(i): \(ours.bucketSizes.count) buckets here, \(theirs.bucketSizes.count) in Python")
        }
    }

    @Test func splitPointsAreThoseOfTheCModule() throws {
        let store = MemoryStore(firstOID: 2)
        var oo = PersistentBTree(newTreeWithOID: OID(1), family: .objectObject, load: store.load)
        for key in Self.keys(30) { try oo.setValue(.none, forKey: .string(key)) }
        #expect(try oo.layout().bucketSizes == [30])
        try oo.setValue(.none, forKey: .string("k00030"))
        #expect(try oo.layout().bucketSizes == [15, 16])

        var oi = PersistentBTree(newTreeWithOID: OID(1), family: .objectInteger, load: store.load)
        for key in Self.keys(61) { try oi.setValue(.int(1), forKey: .string(key)) }
        #expect(try oi.layout().bucketSizes == [30, 31])

        // The root takes 499 children; the 500th splits it into two nodes of 250.
        var big = PersistentBTree(newTreeWithOID: OID(1), family: .objectObject, load: store.load)
        var n = 0
        while case .node(_, let children) = try big.layout(), children.allSatisfy({ if case .bucket = $0 { true } else { false } }) {
            try big.setValue(.none, forKey: .string(String(format: "k%07d", n)))
            n += 1
        }
        guard case .node(_, let children) = try big.layout() else { Issue.record("no root node"); return }
        #expect(children.count == 2)
        #expect(children.map { if case .node(_, let c) = $0 { c.count } else { 0 } } == [250, 250])
        // Sorted inserts leave 15 items in every bucket but the last.
        #expect(n == 499 * 15 + 16)
    }

    @Test func stateFormsFollowBTreeGetstate() throws {
        let store = MemoryStore(firstOID: 2)
        let treeOID = OID(1)
        var tree = PersistentBTree(newTreeWithOID: treeOID, family: .objectObject, load: store.load)
        // An empty new tree is stored as None.
        var changes = tree.changedObjects(allocateOID: store.allocate)
        #expect(changes.map(\.state) == [.none])
        #expect(changes[0].isNew)
        store.commit(changes)

        // A small tree keeps its only bucket inline: (((k, v, …),),).
        tree = try PersistentBTree(oid: treeOID, load: store.load)
        for key in Self.keys(3) { try tree.setValue(.int(7), forKey: .string(key)) }
        changes = tree.changedObjects(allocateOID: store.allocate)
        #expect(changes.count == 1)
        #expect(changes[0].state == .tuple([.tuple([.tuple([.tuple([
            .string("k00000"), .int(7), .string("k00001"), .int(7), .string("k00002"), .int(7),
        ])])])]))
        #expect(changes[0].previousSerial != nil)
        store.commit(changes)

        // A split stores both buckets as new objects: ((b0, key, b1), b0).
        tree = try PersistentBTree(oid: treeOID, load: store.load)
        for key in Self.keys(31).dropFirst(3) { try tree.setValue(.int(7), forKey: .string(key)) }
        changes = tree.changedObjects(allocateOID: store.allocate)
        #expect(changes.count == 3)
        #expect(changes.filter(\.isNew).map(\.objectClass) == [BTreeFamily.objectObject.bucketClass,
                                                                  BTreeFamily.objectObject.bucketClass])
        let buckets = changes.filter(\.isNew).map(\.oid)
        let bucketClass = BTreeFamily.objectObject.bucketClass
        #expect(changes[0].oid == treeOID)
        #expect(changes[0].state == .tuple([
            .tuple([.reference(to: buckets[0], objectClass: bucketClass), .string("k00015"),
                    .reference(to: buckets[1], objectClass: bucketClass)]),
            .reference(to: buckets[0], objectClass: bucketClass),
        ]))
        let first = changes.first { $0.oid == buckets[0] }!
        guard case .tuple(let parts) = first.state else { Issue.record("bucket state"); return }
        #expect(parts.count == 2 && parts[1] == .reference(to: buckets[1], objectClass: bucketClass))
        store.commit(changes)

        // Down to one stored bucket: it stays a separate record, ((b,), b).
        tree = try PersistentBTree(oid: treeOID, load: store.load)
        for key in Self.keys(15) { try tree.removeValue(forKey: .string(key)) }
        changes = tree.changedObjects(allocateOID: store.allocate)
        #expect(changes.map(\.oid) == [treeOID])
        #expect(changes[0].state == .tuple([
            .tuple([.reference(to: buckets[1], objectClass: bucketClass)]),
            .reference(to: buckets[1], objectClass: bucketClass),
        ]))
        store.commit(changes)

        // Emptied: None again; the emptied bucket is garbage and not stored.
        tree = try PersistentBTree(oid: treeOID, load: store.load)
        for key in Self.keys(31).dropFirst(15) { try tree.removeValue(forKey: .string(key)) }
        changes = tree.changedObjects(allocateOID: store.allocate)
        #expect(changes.map(\.state) == [.none])

        // Split and shrunk back within one transaction: the surviving bucket
        // never got an oid, so it is inline again (as in Python).
        var fresh = PersistentBTree(newTreeWithOID: OID(100), family: .objectObject, load: store.load)
        for key in Self.keys(40) { try fresh.setValue(.int(1), forKey: .string(key)) }
        for key in Self.keys(40).prefix(30) { try fresh.removeValue(forKey: .string(key)) }
        changes = fresh.changedObjects(allocateOID: store.allocate)
        #expect(changes.count == 1)
        if case .tuple(let top) = changes[0].state { #expect(top.count == 1) } else { Issue.record("state") }
    }

    @Test func editsRewriteOnlyTheNodesOnTheirPath() throws {
        let store = MemoryStore(firstOID: 2)
        let treeOID = OID(1)
        var tree = PersistentBTree(newTreeWithOID: treeOID, family: .objectObject, load: store.load)
        let keys = Self.keys(20_000)
        for key in keys { try tree.setValue(.int(0), forKey: .string(key)) }
        store.commit(tree.changedObjects(allocateOID: store.allocate))

        var loads = 0
        let counting: PersistentBTree.Loader = { (oid: OID) throws(RecordError) -> ObjectRecord in
            loads += 1
            return try store.load(oid)
        }

        // Into a bucket with room: root, interior node, bucket read; the bucket written.
        tree = try PersistentBTree(oid: treeOID, load: counting)
        try tree.setValue(.int(1), forKey: .string("k10000a"))
        #expect(loads == 3)
        var changes = tree.changedObjects(allocateOID: store.allocate)
        #expect(changes.count == 1)
        #expect(changes[0].objectClass == BTreeFamily.objectObject.bucketClass && !changes[0].isNew)
        store.commit(changes)

        // Filling that bucket until it splits: old bucket, new bucket, parent node.
        tree = try PersistentBTree(oid: treeOID, load: store.load)
        var suffix = 0
        let buckets = try tree.layout().bucketSizes.count
        while try tree.layout().bucketSizes.count == buckets {
            try tree.setValue(.int(1), forKey: .string("k10000b\(suffix)"))
            suffix += 1
        }
        changes = tree.changedObjects(allocateOID: store.allocate)
        #expect(changes.count == 3)
        #expect(changes.filter(\.isNew).count == 1)
        #expect(changes.filter { $0.objectClass == BTreeFamily.objectObject.treeClass }.count == 1)
        store.commit(changes)

        // Emptying a middle bucket (not the first of its node, whose removal
        // would also change the root): the bucket before it (its `next`) and the parent.
        tree = try PersistentBTree(oid: treeOID, load: store.load)
        let middle = Array(keys[15 * 600 ..< 15 * 601])
        for key in middle { try tree.removeValue(forKey: .string(key)) }
        try tree.checkInvariants()
        changes = tree.changedObjects(allocateOID: store.allocate)
        #expect(changes.count == 2)
        #expect(changes.filter { $0.objectClass == BTreeFamily.objectObject.bucketClass }.count == 1)
        store.commit(changes)

        tree = try PersistentBTree(oid: treeOID, load: store.load)
        try tree.checkInvariants()
        #expect(try tree.items().count == 20_000 + 1 + suffix - 15)
    }

    @Test func deletingAMissingKeyChangesNothing() throws {
        let store = MemoryStore(firstOID: 2)
        var tree = PersistentBTree(newTreeWithOID: OID(1), family: .objectObject, load: store.load)
        try tree.setValue(.int(1), forKey: .string("a"))
        store.commit(tree.changedObjects(allocateOID: store.allocate))
        tree = try PersistentBTree(oid: OID(1), load: store.load)
        #expect(try tree.removeValue(forKey: .string("b")) == nil)
        #expect(tree.changedObjects(allocateOID: store.allocate).isEmpty)
    }

    @Test func keysPythonCannotOrderAreRefused() throws {
        let store = MemoryStore(firstOID: 2)
        var tree = PersistentBTree(newTreeWithOID: OID(1), family: .objectObject, load: store.load)
        try tree.setValue(.int(1), forKey: .string("a"))
        #expect(throws: ContainerEditError.self) { try tree.setValue(.int(1), forKey: .bytes([0x61])) }
    }
}
