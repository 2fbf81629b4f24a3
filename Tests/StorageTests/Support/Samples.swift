import Foundation
import Storage
import Testing

/// Small storages ZODB 6.4 wrote (`make_small.py` and an undo of a creation),
/// kept as literals so that the tests need no Python.
enum Samples {
    /// `small/Data.fs` (783 bytes): DB creation; a txn with user/ext adding oid 1; a modification of oid 1; an undo of it (a backpointer to 359).
    static let small = bytes(
        "46533330040d2e127be15ecc000000000000009a20000000190000696e697469616c2064617461626173652063726561",
        "74696f6e0000000000000000040d2e127be15ecc00000000000000000000000000000004000000000000000000408003",
        "6370657273697374656e742e6d617070696e670a50657273697374656e744d617070696e670a71002e80037d71015804",
        "0000006461746171027d7103732e000000000000009a040d2e127be27f22000000000000014e2000050005001b616c69",
        "6365616464207880037d71005803000000666f6f710158030000006261727102732e0000000000000000040d2e127be2",
        "7f22000000000000003400000000000000a60000000000000000005b80036370657273697374656e742e6d617070696e",
        "670a50657273697374656e744d617070696e670a71002e80037d710158040000006461746171027d7103580100000078",
        "710443080000000000000001710568008671065173732e0000000000000001040d2e127be27f22000000000000000000",
        "000000000000a60000000000000000006380036370657273697374656e742e6d617070696e670a50657273697374656e",
        "744d617070696e670a71002e80037d710158040000006461746171027d71032858010000007371045804000000746578",
        "747105580100000062710643020001710775732e000000000000014e040d2e127be2f35500000000000000af20000000",
        "0800006d6f6469667920780000000000000001040d2e127be2f355000000000000016700000000000001fc0000000000",
        "000000006680036370657273697374656e742e6d617070696e670a50657273697374656e744d617070696e670a71002e",
        "80037d710158040000006461746171027d710328580100000073710458070000006368616e6765647105580100000062",
        "710643020001710775732e00000000000000af040d2e127be357aa0000000000000054200000000b0000756e646f206d",
        "6f646966790000000000000001040d2e127be357aa000000000000021b00000000000002b30000000000000000000000",
        "000000000001670000000000000054")

    /// The `.index` ZODB wrote for ``small`` (40 bytes, position 783).
    static let smallIndex = bytes(
        "80034d0f032e800343060000000000004310000000010000000000e20000000002d5862e80034e2e")

    /// DB creation; a txn adding oid 1; an undo of it: oid 0 gets a backpointer to 52, oid 1 a zero backpointer (582 bytes).
    static let georgeBailey = bytes(
        "46533330040d2e129714ad44000000000000009a20000000190000696e697469616c2064617461626173652063726561",
        "74696f6e0000000000000000040d2e129714ad4400000000000000000000000000000004000000000000000000408003",
        "6370657273697374656e742e6d617070696e670a50657273697374656e744d617070696e670a71002e80037d71015804",
        "0000006461746171027d7103732e000000000000009a040d2e129715d533000000000000010b20000000050000616464",
        "20780000000000000000040d2e129715d533000000000000003400000000000000a60000000000000000005b80036370",
        "657273697374656e742e6d617070696e670a50657273697374656e744d617070696e670a71002e80037d710158040000",
        "006461746171027d7103580100000078710443080000000000000001710568008671065173732e000000000000000104",
        "0d2e129715d533000000000000000000000000000000a60000000000000000004080036370657273697374656e742e6d",
        "617070696e670a50657273697374656e744d617070696e670a71002e80037d710158040000006461746171027d710373",
        "2e000000000000010b040d2e1297165edd0000000000000085200000000a0000756e646f206164642078000000000000",
        "0000040d2e1297165edd00000000000000c200000000000001b900000000000000000000000000000000003400000000",
        "00000001040d2e1297165edd000000000000014700000000000001b90000000000000000000000000000000000000000",
        "000000000085")

    /// The `.index` ZODB wrote for ``georgeBailey`` (position 582).
    static let georgeBaileyIndex = bytes(
        "80034d46022e800343060000000000004310000000010000000001da00000000020c862e80034e2e")

    /// Positions and tids in ``small``.
    enum SmallLayout {
        static let transactions: [UInt64] = [4, 166, 508, 691]
        static let tids: [TID] = [0x040d_2e12_7be1_5ecc, 0x040d_2e12_7be2_7f22, 0x040d_2e12_7be2_f355, 0x040d_2e12_7be3_57aa].map { TID(rawValue: $0) }
        /// oid 0: created at 52, modified at 226.
        static let root: [UInt64] = [52, 226]
        /// oid 1: created at 359 (99-byte pickle), modified at 539 (102 bytes), undone at 725 (backpointer to 359).
        static let x: [UInt64] = [359, 539, 725]
    }

    static func bytes(_ lines: String...) -> [UInt8] {
        let hex = Array(lines.joined().utf8)
        return stride(from: 0, to: hex.count, by: 2).map { UInt8(String(decoding: hex[$0..<($0 + 2)], as: UTF8.self), radix: 16)! }
    }
}

/// A temporary directory removed when the test ends.
final class TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("StorageTests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `bytes` to `name` in the directory; returns its path.
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let file = path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }

    /// Appends `bytes` to `name`.
    func append(_ name: String, _ bytes: [UInt8]) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path + "/" + name))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(bytes))
    }

    /// Rewrites `name` in place (same inode), as another process writing to it would.
    func overwrite(_ name: String, _ bytes: [UInt8]) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path + "/" + name))
        defer { try? handle.close() }
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(bytes))
    }

    /// Copies a file into the directory; returns the copy's path.
    @discardableResult
    func copy(_ source: String, as name: String) throws -> String {
        let file = path + "/" + name
        try FileManager.default.copyItem(atPath: source, toPath: file)
        return file
    }

    func read(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "/" + name)))
    }

    func exists(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: path + "/" + name)
    }

    /// The names in the directory, sorted.
    func names() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }
}

/// The Python-built fixtures (`$ZODBFS_FIXTURES/zope/Data.fs` and its `.index`).
enum ExternalFixtures {
    static let environment = ProcessInfo.processInfo.environment

    /// Tests that need the fixtures run when the variable is set, and also
    /// when `CI=true`, where a missing variable is a failure, not a skip.
    static let enabled = environment["ZODBFS_FIXTURES"] != nil || environment["CI"] == "true"

    /// The directory holding `Data.fs` and `Data.fs.index` of the Zope
    /// fixture; records a failure and returns nil when it is missing.
    static func zope(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        guard let root = environment["ZODBFS_FIXTURES"] else {
            Issue.record("ZODBFS_FIXTURES is not set (CI=true requires the Python-built fixtures)", sourceLocation: sourceLocation)
            return nil
        }
        let directory = root + "/zope"
        for name in ["Data.fs", "Data.fs.index"] where !FileManager.default.fileExists(atPath: directory + "/" + name) {
            Issue.record("\(directory)/\(name) is missing", sourceLocation: sourceLocation)
            return nil
        }
        return directory
    }
}

extension StorageError {
    /// The offset of a `corrupted` error, nil for other errors.
    var corruptionOffset: UInt64? {
        if case .corrupted(_, let offset, _) = self { return offset }
        return nil
    }
}

/// Runs `body` and returns the `StorageError` it throws, recording an issue
/// when it throws nothing or another error.
func storageError<T>(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T) -> StorageError? {
    do {
        _ = try body()
        Issue.record("expected a StorageError", sourceLocation: sourceLocation)
        return nil
    } catch let error as StorageError {
        return error
    } catch {
        Issue.record("expected a StorageError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
