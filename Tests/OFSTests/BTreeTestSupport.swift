import Foundation
@testable import OFS
import Pickle
import Storage
import TestSupport
import Testing
import ZODB

/// Records kept in memory, standing in for a storage: what `changedObjects`
/// returns is "committed" here and read back through the same loader a
/// real store would use.
final class MemoryStore: @unchecked Sendable {
    var records: [OID: ObjectRecord] = [:]
    var nextOID: UInt64
    var nextTID: UInt64 = 1

    init(firstOID: UInt64 = 1) {
        nextOID = firstOID
    }

    func allocate() -> OID {
        defer { nextOID += 1 }
        return OID(nextOID)
    }

    func load(_ oid: OID) throws(RecordError) -> ObjectRecord {
        guard let record = records[oid] else { throw .unexpectedState(oid: oid, expected: "a stored record") }
        return record
    }

    /// Stores the changes as one transaction, checking the serials the way
    /// a storage's conflict check would.
    func commit(_ changes: [ChangedObject]) {
        let tid = TID(nextTID)
        nextTID += 1
        for change in changes {
            #expect(records[change.oid]?.tid == change.previousSerial, "serial of \(change.oid)")
            records[change.oid] = ObjectRecord(oid: change.oid, tid: tid, objectClass: change.objectClass,
                                               classArguments: nil, state: change.state)
        }
    }
}

/// The node structure of a tree, as `Scripts/peers/btree_layout.py` prints it.
indirect enum BTreeLayout: Decodable, Equatable, CustomStringConvertible {
    case bucket([String])
    case node(keys: [String], children: [BTreeLayout])

    enum CodingKeys: String, CodingKey { case b, k, c }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let keys = try container.decodeIfPresent([String].self, forKey: .b) {
            self = .bucket(keys)
        } else {
            self = .node(keys: try container.decode([String].self, forKey: .k),
                         children: try container.decode([BTreeLayout].self, forKey: .c))
        }
    }

    var description: String {
        switch self {
        case .bucket(let keys): return "B\(keys.count)[\(keys.first ?? "")…\(keys.last ?? "")]"
        case .node(let keys, let children): return "N(\(keys.count + 1): \(children.map(\.description).joined(separator: " ")))"
        }
    }

    /// Bucket sizes, left to right.
    var bucketSizes: [Int] {
        switch self {
        case .bucket(let keys): return [keys.count]
        case .node(_, let children): return children.flatMap(\.bucketSizes)
        }
    }
}

extension PersistentBTree {
    /// The layout of the whole tree (loads every node).
    mutating func layout() throws -> BTreeLayout {
        try layout(of: Self.root)
    }

    mutating func layout(of slot: Int) throws -> BTreeLayout {
        switch try content(slot) {
        case .bucket(let bucket):
            return .bucket(bucket.keys.map { $0.stringValue ?? "?" })
        case .node(let node):
            var children: [BTreeLayout] = []
            for child in node.children { children.append(try layout(of: child)) }
            return .node(keys: node.keys.dropFirst().map { $0.stringValue ?? "?" }, children: children)
        case .unloaded:
            preconditionFailure()
        }
    }

    /// The invariants `BTrees.check.check` and `BTree._check` verify, plus
    /// the size limits: keys ordered within buckets and bounded by the
    /// separators above them, `firstbucket` of every node its leftmost
    /// bucket, the bucket chain visiting the leaves left to right, no empty
    /// node or bucket below the root, no bucket above `maxLeafSize`, no
    /// node above `maxInternalSize` children (the root below twice that).
    mutating func checkInvariants() throws {
        var leaves: [Int] = []
        try checkNode(Self.root, low: nil, high: nil, isRoot: true, leaves: &leaves)
        guard case .node(let root) = try content(Self.root) else { Issue.record("root is not a node"); return }
        if leaves.isEmpty {
            #expect(root.firstBucket == nil)
            return
        }
        #expect(root.firstBucket == leaves.first)
        for (i, leaf) in leaves.enumerated() {
            let next = try bucket(leaf).next
            #expect(next == (i + 1 < leaves.count ? leaves[i + 1] : nil), "bucket chain at leaf \(i)")
        }
    }

    mutating func checkNode(_ slot: Int, low: PickleValue?, high: PickleValue?, isRoot: Bool,
                            leaves: inout [Int]) throws {
        switch try content(slot) {
        case .bucket(let bucket):
            #expect(!bucket.keys.isEmpty || isRoot, "empty bucket")
            #expect(bucket.keys.count <= family.maxLeafSize, "bucket of \(bucket.keys.count)")
            for i in bucket.keys.indices {
                if i > 0 { #expect(BTreeKeyOrder.compare(bucket.keys[i - 1], bucket.keys[i])! < 0) }
                if let low { #expect(BTreeKeyOrder.compare(low, bucket.keys[i])! <= 0) }
                if let high { #expect(BTreeKeyOrder.compare(bucket.keys[i], high)! < 0) }
            }
            leaves.append(slot)
        case .node(let node):
            if isRoot {
                #expect(node.children.count < family.maxInternalSize * 2)
            } else {
                #expect(!node.children.isEmpty, "empty interior node")
                #expect(node.children.count <= family.maxInternalSize)
            }
            let first = leaves.count
            for (i, child) in node.children.enumerated() {
                let lo = i == 0 ? low : node.keys[i]
                let hi = i + 1 < node.children.count ? node.keys[i + 1] : high
                try checkNode(child, low: lo, high: hi, isRoot: false, leaves: &leaves)
            }
            if !node.children.isEmpty {
                #expect(node.firstBucket == leaves[first], "firstbucket of a node")
            }
        case .unloaded:
            preconditionFailure()
        }
    }
}

/// A Python peer script that exited with an error.
struct PeerFailure: Error, CustomStringConvertible {
    var description: String
}

/// Runs a script of `Scripts/` with the venv's Python; its standard output.
func runPeer(_ script: String, _ arguments: [String]) throws -> Data {
    let result = try runCommand(try TestEnvironment.python(), [TestEnvironment.script(script)] + arguments)
    guard result.status == 0 else {
        throw PeerFailure(description: "\(script) exited with \(result.status): \(result.stderr)")
    }
    return result.stdoutData
}

/// Runs `Scripts/peers/btree_layout.py` on the operations and returns the
/// layouts Python's BTrees produced at each `=`.
func pythonLayouts(family: String, ops: [[String]]) throws -> [BTreeLayout] {
    let scratch = try ScratchDirectory("zodbfs-btree")
    defer { scratch.cleanUp() }
    let path = scratch.path("ops.json")
    let spec: [String: Any] = ["family": family, "ops": ops]
    try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: path))
    return try JSONDecoder().decode([BTreeLayout].self, from: runPeer("peers/btree_layout.py", [path]))
}
