import Storage
import Testing

/// When the `.index` file is used, and when it is ignored (ZODB's `_check_sanity`).
@Suite struct IndexSanityTests {
    typealias Layout = Samples.SmallLayout

    func open(_ data: [UInt8], index: [UInt8]) throws -> (FileStorage, TemporaryDirectory) {
        let directory = try TemporaryDirectory()
        let path = try directory.write("Data.fs", data)
        try directory.write("Data.fs.index", index)
        return (try FileStorage(path: path), directory)
    }

    func expectComplete(_ storage: FileStorage) throws {
        #expect(storage.size == 783)
        #expect(storage.lastTransaction == Layout.tids[3])
        #expect(storage.indexSnapshot().dictionary == [.root: 226, OID(1): 725])
    }

    @Test func anIndexSavedEarlierIsUsedAndTheRestScanned() throws {
        // corrupt_test.py case 5: an index as of 508, two transactions later.
        let index = try IndexFile.encoded(position: 508, index: [.root: 226, OID(1): 359])
        let (storage, _) = try open(Samples.small, index: index)
        #expect(storage.usedIndexFile)
        try expectComplete(storage)
        #expect(storage.warnings.isEmpty)
    }

    @Test func anIndexPastTheEndIsIgnored() throws {
        // corrupt_test.py case 6: the file lost its last transaction.
        let (storage, _) = try open(Array(Samples.small[..<691]), index: Samples.smallIndex)
        #expect(!storage.usedIndexFile)
        #expect(storage.size == 691)
        #expect(storage.position(of: OID(1)) == 539)
    }

    static let staleIndexes: [(position: UInt64, content: [OID: UInt64])] = [
        (783, [OID(0): 226, OID(1): 539]),  // the last record is not where the index says
        (783, [OID(0): 226]),  // an oid of the last transaction is missing
        (782, [OID(0): 226, OID(1): 725]),  // not a transaction boundary
        (99, [OID(0): 226, OID(1): 725]),  // pos < 100
        (500, [OID(0): 226, OID(1): 359]),  // inside a transaction
    ]

    @Test(arguments: staleIndexes)
    func aStaleIndexIsIgnored(position: UInt64, content: [OID: UInt64]) throws {
        let (storage, _) = try open(Samples.small, index: try IndexFile.encoded(position: position, index: ObjectIndex(content)))
        #expect(!storage.usedIndexFile)
        try expectComplete(storage)
    }

    @Test func anUnreadableIndexIsIgnored() throws {
        for bytes in [[], [0x80, 0x03], Array(Samples.smallIndex.dropLast(3)), [UInt8](repeating: 0x42, count: 40)] {
            let (storage, _) = try open(Samples.small, index: bytes)
            #expect(!storage.usedIndexFile)
            try expectComplete(storage)
        }
    }

    @Test func undoneAndEmptyTransactionsAreSkippedWhenChecking() throws {
        // An empty transaction after the last one: the check walks back past it.
        var empty = TransactionHeader(
            tid: TID(Layout.tids[3].rawValue + 1), length: 23, status: TransactionStatus.committed,
            userLength: 0, descriptionLength: 0, extensionLength: 0
        ).serialized()
        empty += [0, 0, 0, 0, 0, 0, 0, 23]
        let data = Samples.small + empty
        let index = try IndexFile.encoded(position: UInt64(data.count), index: [.root: 226, OID(1): 725])
        let (storage, _) = try open(data, index: index)
        #expect(storage.usedIndexFile)
        #expect(storage.lastTransaction == TID(Layout.tids[3].rawValue + 1))
        #expect(storage.size == UInt64(data.count))
    }
}
