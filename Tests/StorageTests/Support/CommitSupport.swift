import Foundation
import Storage
import SystemPackage
import Testing
import TestSupport

/// Record pickles that ZODB can load: a `persistent.mapping.PersistentMapping`
/// whose state is `{'data': {'k': value}}`, written the way ZODB 6 writes a
/// record (class pickle, then state pickle, protocol 3).
enum Pickles {
    /// The class pickle, byte for byte what `ObjectWriter` writes.
    static let classPickle: [UInt8] = [0x80, 0x03] + Array("cpersistent.mapping\nPersistentMapping\nq".utf8) + [0x00, 0x2e]

    /// A mapping holding `text`.
    static func mapping(_ text: String) -> [UInt8] {
        let value = Array(text.utf8)
        return classPickle + statePrefix + [0x58] + littleEndian(value.count) + value + [0x71, 0x05, 0x73, 0x73, 0x2e]
    }

    /// The bytes around a `BINBYTES` value of `count` bytes: a mapping
    /// holding `prefix + <count bytes> + suffix` as `bytes` is a valid
    /// record pickle, so a big payload can come from a file segment.
    static func bytesMapping(count: Int) -> (prefix: [UInt8], suffix: [UInt8]) {
        (classPickle + statePrefix + [0x42] + littleEndian(count), [0x71, 0x05, 0x73, 0x73, 0x2e])
    }

    /// `}q\x01X\x04\x00\x00\x00dataq\x02}q\x03X\x01\x00\x00\x00kq\x04`
    private static let statePrefix: [UInt8] =
        [0x80, 0x03, 0x7d, 0x71, 0x01, 0x58, 0x04, 0, 0, 0] + Array("data".utf8)
        + [0x71, 0x02, 0x7d, 0x71, 0x03, 0x58, 0x01, 0, 0, 0, 0x6b, 0x71, 0x04]

    private static func littleEndian(_ count: Int) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: count >> (8 * $0)) }
    }

    /// `zodbpickle.dumps({'foo': 'bar'}, 3)`: a transaction extension.
    static let fooBarExtension: [UInt8] = [0x80, 0x03, 0x7d, 0x71, 0x00, 0x58, 0x03, 0, 0, 0] + Array("foo".utf8)
        + [0x71, 0x01, 0x58, 0x03, 0, 0, 0] + Array("bar".utf8) + [0x71, 0x02, 0x73, 0x2e]
}

extension PendingRecord {
    /// A record whose pickle is `bytes`, in one segment.
    static func bytes(_ oid: OID, _ expected: TID?, _ bytes: [UInt8]) -> PendingRecord {
        PendingRecord(oid: oid, expectedSerial: expected, segments: [.bytes(bytes)])
    }
}

/// A clock a test moves by hand.
final class ManualClock: Sendable {
    private let time: Guarded<Double>
    init(_ start: Double) { time = Guarded(start) }
    func set(_ value: Double) { time.withLock { $0 = value } }
    var clock: CommitClock { CommitClock { [self] in time.withLock { $0 } } }
}

/// The venv's Python and the peer scripts, for tests that prove Python reads
/// what the storage wrote. Enabled when `ZODBFS_PYTHON` is set, and when
/// `CI=true` (where a missing Python is a failure, not a skip).
enum PythonPeer {
    static let enabled = ProcessInfo.processInfo.environment["ZODBFS_PYTHON"] != nil || TestEnvironment.isCI

    /// Runs `Scripts/peers/<script>` and returns its output, recording an
    /// issue when it fails.
    @discardableResult
    static func run(_ script: String, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
        let result = try runCommand(try TestEnvironment.python(), [TestEnvironment.script("peers/" + script)] + arguments)
        #expect(result.status == 0, "\(script) failed: \(result.stderr)", sourceLocation: sourceLocation)
        return result
    }

    /// The JSON a peer script prints.
    static func json(_ script: String, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> Any {
        let result = try run(script, arguments, sourceLocation: sourceLocation)
        return try JSONSerialization.jsonObject(with: result.stdoutData)
    }

    /// `fstest.py PATH` of the installed ZODB: exit status and output.
    static func fstest(_ path: String) throws -> CommandResult {
        try runCommand(try TestEnvironment.python(), ["-m", "ZODB.scripts.fstest", path])
    }

    /// `fsrefs.py PATH`: prints nothing when every reference resolves.
    static func fsrefs(_ path: String) throws -> CommandResult {
        try runCommand(try TestEnvironment.python(), ["-m", "ZODB.scripts.fsrefs", path])
    }
}

/// What `dump_transactions.py` printed, typed.
struct PythonDump {
    struct Record: Equatable, CustomStringConvertible {
        var oid: String
        var tid: String
        var position: UInt64
        var prev: UInt64
        var tloc: UInt64
        var plen: UInt64
        var sha256: String?
        var description: String { "\(oid)@\(position) tid \(tid) prev \(prev) tloc \(tloc) plen \(plen)" }
    }

    struct Transaction {
        var tid: String
        var position: UInt64
        var status: String
        var user: String
        var description: String
        var `extension`: [String: Any]
        var records: [Record]
    }

    var size: UInt64
    var lastTID: String
    var objects: Int
    var usedIndex: Bool
    /// `fsIndex.load` of Data.fs.index: its position and whether it equals a scan.
    var index: (position: UInt64, equalsScan: Bool)?
    var transactions: [Transaction]
    /// oid → (tid, sha256) of `load_current`.
    var current: [String: (tid: String, sha256: String)]

    init(_ path: String) throws {
        let json = try #require(try PythonPeer.json("dump_transactions.py", [path]) as? [String: Any])
        func number(_ value: Any?) -> UInt64 { (value as? NSNumber)?.uint64Value ?? .max }
        size = number(json["size"])
        lastTID = json["last_tid"] as? String ?? ""
        objects = (json["objects"] as? NSNumber)?.intValue ?? -1
        usedIndex = json["used_index"] as? Bool ?? false
        if let index = json["index"] as? [String: Any] {
            self.index = (number(index["pos"]), index["equals_scan"] as? Bool ?? false)
        }
        transactions = (json["transactions"] as? [[String: Any]] ?? []).map { t in
            Transaction(
                tid: t["tid"] as? String ?? "", position: number(t["position"]), status: t["status"] as? String ?? "",
                user: t["user"] as? String ?? "", description: t["description"] as? String ?? "",
                extension: t["extension"] as? [String: Any] ?? [:],
                records: (t["records"] as? [[String: Any]] ?? []).map { r in
                    Record(
                        oid: r["oid"] as? String ?? "", tid: r["tid"] as? String ?? "", position: number(r["position"]),
                        prev: number(r["prev"]), tloc: number(r["tloc"]), plen: number(r["plen"]),
                        sha256: r["sha256"] as? String)
                })
        }
        var current: [String: (String, String)] = [:]
        for (oid, value) in json["current"] as? [String: [String: String]] ?? [:] {
            current[oid] = (value["tid"] ?? "", value["sha256"] ?? "")
        }
        self.current = current
    }
}

/// Runs `body` on `count` threads that start together, and waits for all.
func runConcurrently(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    let start = DispatchSemaphore(value: 0)
    for i in 0..<count {
        group.enter()
        let thread = Thread {
            start.wait()
            body(i)
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    for _ in 0..<count { start.signal() }
    group.wait()
}

/// Writes `bytes` to a new file and opens it for reading (a spool file).
func spoolFile(_ directory: TemporaryDirectory, _ name: String, _ bytes: [UInt8]) throws -> FileDescriptor {
    let path = try directory.write(name, bytes)
    return try FileDescriptor.open(FilePath(path), .readOnly)
}

