import Foundation
import Storage
import Testing

/// Torn tails and damage, through the open (which runs the scanner).
@Suite struct TransactionScannerTests {
    typealias Layout = Samples.SmallLayout

    /// Opens `bytes` as a storage (no index) in a fresh directory.
    static func open(_ bytes: [UInt8]) throws(StorageError) -> (FileStorage, TemporaryDirectory) {
        let directory = try! TemporaryDirectory()
        let path = try! directory.write("Data.fs", bytes)
        return (try FileStorage(path: path), directory)
    }

    @Test func everyCutInsideTheLastTransactionKeepsTheOthers() throws {
        for cut in 692..<783 {
            let (storage, directory) = try Self.open(Array(Samples.small[..<cut]))
            #expect(storage.size == 691, "cut at \(cut)")
            #expect(storage.lastTransaction == Layout.tids[2], "cut at \(cut)")
            #expect(storage.position(of: OID(1)) == 539)
            #expect(try storage.load(OID(1)).data == Array(Samples.small[581..<683]))
            #expect(storage.warnings.last?.offset == 691)
            // Nothing was written: the file still has its torn tail.
            #expect(try directory.read("Data.fs").count == cut)
            storage.close()
        }
    }

    @Test func everyCutKeepsTheCompleteTransactionsBeforeIt() throws {
        let ends: [UInt64] = [4, 166, 508, 691, 783]
        for cut in 4...783 {
            let (storage, _) = try Self.open(Array(Samples.small[..<cut]))
            let kept = ends.last { $0 <= UInt64(cut) }!
            #expect(storage.size == kept, "cut at \(cut)")
            #expect(storage.lastTransaction == (kept == 4 ? .zero : Layout.tids[ends.firstIndex(of: kept)! - 1]))
            storage.close()
        }
    }

    @Test func garbageAfterTheLastTransactionIsATornTail() throws {
        // corrupt_test.py case 1: 10 bytes, fewer than a header.
        let (a, _) = try Self.open(Samples.small + [0x04, 0x0d] + [UInt8](repeating: 0, count: 8))
        #expect(a.size == 783 && a.lastTransaction == Layout.tids[3])
        #expect(a.warnings.map(\.offset) == [783])

        // A header whose length runs past the end of the file.
        let (b, _) = try Self.open(Samples.small + [UInt8](repeating: 0xee, count: 100))
        #expect(b.size == 783)
    }

    @Test func checkpointStatusAtTheTailIsIgnored() throws {
        // corrupt_test.py case 2: a complete copy of the last transaction,
        // with a later tid and status 'c', appended.
        var transaction = Array(Samples.small[691...])
        transaction[0] = 0x7f
        transaction[16] = UInt8(ascii: "c")
        for i in 0..<8 { transaction[34 + 24 + i] = 0 }  // tloc of its data record → 783
        transaction.replaceSubrange((34 + 24)..<(34 + 32), with: UInt64(783).bigEndianBytes)
        let (storage, _) = try Self.open(Samples.small + transaction)
        #expect(storage.size == 783)
        #expect(storage.lastTransaction == Layout.tids[3])
        #expect(storage.warnings.count == 1)
    }

    @Test func checkpointStatusInTheMiddleIsDamage() {
        var bytes = Samples.small
        bytes[508 + 16] = UInt8(ascii: "c")
        #expect(storageError { try Self.open(bytes) }?.corruptionOffset == 508)
    }

    @Test func aLengthRunningPastTheEndInTheMiddleIsDamage() {
        var bytes = Samples.small
        bytes.replaceSubrange(174..<182, with: [0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
        let error = storageError { try Self.open(bytes) }
        #expect(error?.corruptionOffset == 166)
        #expect(error?.errno == 5)
        #expect(error.map { "\($0)".contains("damaged at byte 166") } == true)
    }

    @Test func aMismatchedTrailerIsDamage() {
        var bytes = Samples.small
        bytes[507] ^= 1  // the trailer of the transaction at 166 ends at 508
        #expect(storageError { try Self.open(bytes) }?.corruptionOffset == 500)
    }

    @Test func aWrongTransactionPointerIsDamage() {
        var bytes = Samples.small
        bytes[359 + 31] ^= 1  // tloc of oid 1's first record
        #expect(storageError { try Self.open(bytes) }?.corruptionOffset == 359)
    }

    @Test func aVersionLengthIsDamage() {
        var bytes = Samples.small
        bytes[539 + 33] = 1
        #expect(storageError { try Self.open(bytes) }?.corruptionOffset == 539)
    }

    @Test func aPickleLengthRunningPastItsTransactionIsDamage() {
        var bytes = Samples.small
        bytes[226 + 41] &+= 1  // plen 91 → 92: the records no longer add up
        #expect(storageError { try Self.open(bytes) }?.corruptionOffset != nil)
        bytes = Samples.small
        bytes.replaceSubrange((226 + 34)..<(226 + 42), with: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
        #expect(storageError { try Self.open(bytes) }?.corruptionOffset == 226)
    }

    @Test func aHeaderShorterThanItsMetadataIsDamageInTheMiddle() {
        var bytes = Samples.small
        bytes.replaceSubrange(516..<524, with: UInt64(10).bigEndianBytes)  // tlen of the txn at 508
        #expect(storageError { try Self.open(bytes) }?.corruptionOffset == 508)
    }

    @Test func warningsDoNotStopTheOpen() throws {
        // A tid reduction and an unknown status are only logged by ZODB.
        var bytes = Samples.small
        bytes.replaceSubrange(508..<516, with: Layout.tids[0].bytes)
        bytes.replaceSubrange(539 + 8..<539 + 16, with: Layout.tids[0].bytes)
        bytes[691 + 16] = UInt8(ascii: "x")
        let (storage, _) = try Self.open(bytes)
        #expect(storage.size == 783)
        let offsets = storage.warnings.map(\.offset)
        #expect(offsets.contains(508) && offsets.contains(691))
    }

    @Test func undoneTransactionsAreSkipped() throws {
        var bytes = Samples.small
        bytes[508 + 16] = UInt8(ascii: "u")
        let (storage, _) = try Self.open(bytes)
        #expect(storage.size == 783)
        #expect(storage.lastTransaction == Layout.tids[3])
        let transactions = try storage.transactions()
        #expect(transactions[2].status == TransactionStatus.undone && transactions[2].oids.isEmpty)
        // The record at 725 says prev = 539, which the index never saw.
        #expect(storage.warnings.map(\.offset) == [725])
    }

    /// Random byte changes to the sample (with and without its index) either
    /// open or throw a `StorageError`; loading every object then does the same.
    @Test func noInputCrashesOrHangs() throws {
        var generator = SplitMix64(seed: 0x5eed)
        let directory = try TemporaryDirectory()
        for round in 0..<1000 {
            var bytes = Samples.small
            for _ in 0..<(1 + Int(generator.next() % 4)) {
                let at = Int(generator.next() % UInt64(bytes.count))
                bytes[at] = UInt8(truncatingIfNeeded: generator.next())
            }
            let path = try directory.write("fuzz.fs", bytes)
            if round % 2 == 0 {
                try directory.write("fuzz.fs.index", Samples.smallIndex)
            } else if directory.exists("fuzz.fs.index") {
                try FileManager.default.removeItem(atPath: directory.path + "/fuzz.fs.index")
            }
            guard let storage = try? FileStorage(path: path) else { continue }
            for oid in [OID.root, OID(1), OID(2)] {
                _ = try? storage.load(oid)
                _ = try? storage.loadBefore(oid, before: Layout.tids[2])
                _ = try? storage.revisions(of: oid)
            }
            _ = try? storage.transactions()
            storage.close()
        }
    }
}

/// A small deterministic generator for the fuzz test.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

extension UInt64 {
    var bigEndianBytes: [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: self >> UInt64(56 - 8 * $0)) } }
}
