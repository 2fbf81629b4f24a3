import Storage
import Testing

@Suite struct FileStorageTests {
    typealias Layout = Samples.SmallLayout

    /// `small/Data.fs`, with or without its `.index`.
    static func small(withIndex: Bool, in directory: TemporaryDirectory) throws -> String {
        let path = try directory.write("Data.fs", Samples.small)
        if withIndex { try directory.write("Data.fs.index", Samples.smallIndex) }
        return path
    }

    @Test(arguments: [true, false])
    func opensTheSample(withIndex: Bool) throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(path: try Self.small(withIndex: withIndex, in: directory))
        defer { storage.close() }
        #expect(storage.usedIndexFile == withIndex)
        #expect(storage.magic == "FS30")
        #expect(storage.isReadOnly)
        #expect(storage.size == 783)
        #expect(storage.lastTransaction == Layout.tids[3])
        #expect(storage.objectCount == 2)
        #expect(storage.largestOID == OID(1))
        #expect(storage.position(of: .root) == 226)
        #expect(storage.position(of: OID(1)) == 725)
        #expect(storage.position(of: OID(2)) == nil)
        #expect(storage.descriptor >= 0)
        #expect(storage.warnings.isEmpty)
        // A read-only open creates nothing (no lock, no .tmp, no index).
        #expect(try directory.names() == (withIndex ? ["Data.fs", "Data.fs.index"] : ["Data.fs"]))
    }

    @Test func loadFollowsTheUndoBackpointer() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(path: try Self.small(withIndex: true, in: directory))
        defer { storage.close() }

        let root = try storage.load(.root)
        #expect(root.tid == Layout.tids[1])
        #expect(root.data == Array(Samples.small[(226 + 42)..<(226 + 42 + 91)]))

        // oid 1's newest record (725) points back at its creation (359):
        // the data is the creation's, the tid is the undo's.
        let x = try storage.load(OID(1))
        #expect(x.tid == Layout.tids[3])
        #expect(x.data == Array(Samples.small[(359 + 42)..<(359 + 42 + 99)]))
        #expect(x.data.starts(with: [0x80, 0x03]) && x.data.last == UInt8(ascii: "."))

        let record = try storage.currentRecord(OID(1))
        #expect(record == DataRecord(oid: OID(1), tid: Layout.tids[3], position: 725, pickleOffset: 401, pickleLength: 99))
        #expect(try storage.read(at: record.pickleOffset, count: record.pickleLength) == x.data)
    }

    @Test func loadBeforeWalksTheHistory() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(path: try Self.small(withIndex: false, in: directory))
        defer { storage.close() }
        let t = Layout.tids
        let created = Array(Samples.small[401..<500])
        let modified = Array(Samples.small[581..<683])

        let current = try #require(try storage.loadBefore(OID(1), before: .max))
        #expect(current.data == created && current.start == t[3] && current.end == nil)

        let beforeUndo = try #require(try storage.loadBefore(OID(1), before: t[3]))
        #expect(beforeUndo.data == modified && beforeUndo.start == t[2] && beforeUndo.end == t[3])

        let beforeModify = try #require(try storage.loadBefore(OID(1), before: t[2]))
        #expect(beforeModify.data == created && beforeModify.start == t[1] && beforeModify.end == t[2])

        #expect(try storage.loadBefore(OID(1), before: t[1]) == nil)
        #expect(try storage.loadBefore(OID(1), before: .zero) == nil)

        let rootBefore = try #require(try storage.loadBefore(.root, before: t[1]))
        #expect(rootBefore.start == t[0] && rootBefore.end == t[1])
        #expect(rootBefore.data == Array(Samples.small[94..<158]))

        #expect(storageError { try storage.loadBefore(OID(9), before: .max) } == .objectNotFound(OID(9)))
    }

    @Test func loadSerialAndRevisions() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(path: try Self.small(withIndex: true, in: directory))
        defer { storage.close() }
        let t = Layout.tids
        #expect(try storage.loadSerial(OID(1), serial: t[2]) == Array(Samples.small[581..<683]))
        #expect(try storage.loadSerial(OID(1), serial: t[3]) == Array(Samples.small[401..<500]))
        #expect(storageError { try storage.loadSerial(OID(1), serial: t[0]) } == .objectNotFound(OID(1)))
        let revisions = try storage.revisions(of: OID(1))
        #expect(revisions.map(\.tid) == [t[3], t[2], t[1]])
        #expect(revisions.map(\.position) == [725, 539, 359])
    }

    @Test func georgeBailey() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("Data.fs", Samples.georgeBailey)
        try directory.write("Data.fs.index", Samples.georgeBaileyIndex)
        let storage = try FileStorage(path: path)
        defer { storage.close() }
        #expect(storage.usedIndexFile)
        #expect(storage.objectCount == 2)  // ZODB keeps the oid in its index too

        // The undo restored the root through a backpointer to its first revision.
        let root = try storage.load(.root)
        #expect(root.data == Array(Samples.georgeBailey[94..<158]))

        let error = storageError { try storage.load(OID(1)) }
        #expect(error == .objectDeleted(OID(1)))
        #expect(error?.errno == 2)  // ENOENT
        #expect(storageError { try storage.currentRecord(OID(1)) } == .objectDeleted(OID(1)))
        // Before the undo, the object existed.
        let before = try #require(try storage.loadBefore(OID(1), before: storage.lastTransaction))
        #expect(before.data == Array(Samples.georgeBailey[369..<433]))
        #expect(storageError { try storage.loadBefore(OID(1), before: .max) } == .objectDeleted(OID(1)))
    }

    @Test func missingObject() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(path: try Self.small(withIndex: true, in: directory))
        defer { storage.close() }
        let error = storageError { try storage.load(OID(42)) }
        #expect(error == .objectNotFound(OID(42)))
        #expect(error?.errno == 2)
    }

    @Test func readIsBoundedByTheStorage() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(path: try Self.small(withIndex: true, in: directory))
        defer { storage.close() }
        #expect(try storage.read(at: 0, count: 4) == Array("FS30".utf8))
        #expect(try storage.read(at: 783, count: 0) == [])
        #expect(try storage.read(at: 775, count: 8) == Array(Samples.small[775...]))
        #expect(storageError { try storage.read(at: 780, count: 4) }?.corruptionOffset == 780)
        #expect(storageError { try storage.read(at: .max, count: 2) }?.errno == 5)
        storage.adviseWillNeed(offset: 0, length: 783)
    }

    @Test func fs21IsAccepted() throws {
        let directory = try TemporaryDirectory()
        var bytes = Samples.small
        bytes.replaceSubrange(0..<4, with: Array("FS21".utf8))
        let storage = try FileStorage(path: try directory.write("Data.fs", bytes))
        defer { storage.close() }
        #expect(storage.magic == "FS21")
        #expect(storage.size == 783)
        #expect(try storage.load(OID(1)).tid == Layout.tids[3])
    }

    @Test(arguments: [[], Array("FS".utf8), Array("FS3".utf8), Array("FS40".utf8), Array("PK\u{3}\u{4}hello".utf8), Array("fs30".utf8)])
    func notAFileStorage(bytes: [UInt8]) throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("Data.fs", bytes)
        let error = storageError { try FileStorage(path: path) }
        #expect(error == .notAFileStorage(path: path))
        #expect(error?.errno == 22)  // EINVAL
        #expect(try directory.names() == ["Data.fs"])
    }

    @Test func justTheMagicIsAnEmptyStorage() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(path: try directory.write("Data.fs", Array("FS30".utf8)))
        defer { storage.close() }
        #expect(storage.size == 4)
        #expect(storage.objectCount == 0)
        #expect(storage.lastTransaction == .zero)
        #expect(storage.largestOID == nil)
        #expect(try storage.transactions().isEmpty)
        #expect(try storage.poll().isEmpty)
    }

    @Test func missingFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/nothing.fs"
        let error = storageError { try FileStorage(path: path) }
        #expect(error == .fileNotFound(path: path))
        #expect(error?.errno == 2)
        #expect(storageError { try FileStorage(path: path, readOnly: false) } == .fileNotFound(path: path))
        #expect(try directory.names().isEmpty)
    }

    @Test func transactionsIterateTheSample() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(path: try Self.small(withIndex: true, in: directory))
        defer { storage.close() }
        let transactions = try storage.transactions()
        #expect(transactions.map(\.position) == Layout.transactions)
        #expect(transactions.map(\.tid) == Layout.tids)
        #expect(transactions.allSatisfy { $0.status == TransactionStatus.committed })
        #expect(transactions.map(\.oids) == [[.root], [.root, OID(1)], [OID(1)], [OID(1)]])
        #expect(transactions[0].description == Array("initial database creation".utf8))
        #expect(transactions[1].user == Array("alice".utf8))
        #expect(transactions[1].description == Array("add x".utf8))
        #expect(transactions[1].extension == Array(Samples.small[199..<226]))
        #expect(transactions[3].description == Array("undo modify".utf8))

        var seen = 0
        try storage.forEachTransaction { _ in
            seen += 1
            return seen < 2
        }
        #expect(seen == 2)
    }

    @Test func closedStorageThrows() throws {
        let directory = try TemporaryDirectory()
        let path = try Self.small(withIndex: true, in: directory)
        let storage = try FileStorage(path: path)
        storage.close()
        storage.close()
        #expect(storageError { try storage.load(.root) } == .closed(path: path))
        #expect(storageError { try storage.read(at: 0, count: 1) } == .closed(path: path))
        #expect(storageError { try storage.poll() } == .closed(path: path))
    }

    @Test func readWriteOpenLocksAndSavesTheIndex() throws {
        let directory = try TemporaryDirectory()
        let path = try Self.small(withIndex: false, in: directory)
        let storage = try FileStorage(path: path, readOnly: false)
        #expect(!storage.isReadOnly)
        #expect(!storage.usedIndexFile)
        // ZODB saves the index after a full scan; it is Python's own bytes.
        #expect(try directory.read("Data.fs.index") == Samples.smallIndex)
        #expect(!directory.exists("Data.fs.index.index_tmp"))
        let lock = String(decoding: try directory.read("Data.fs.lock"), as: UTF8.self)
        #expect(lock.hasPrefix(" ") && lock.hasSuffix("\n"))

        // A second writer is refused while the first holds the lock.
        #expect(storageError { try FileStorage(path: path, readOnly: false) } == .locked(path: path + ".lock"))
        // A reader is not.
        let reader = try FileStorage(path: path)
        #expect(reader.usedIndexFile)
        reader.close()
        #expect(storageError { try reader.saveIndex() } != nil)

        storage.close()
        let again = try FileStorage(path: path, readOnly: false)
        #expect(again.usedIndexFile)
        again.close()
        #expect(try directory.read("Data.fs") == Samples.small)
    }

    @Test func readOnlyRefusesToSaveTheIndex() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(path: try Self.small(withIndex: false, in: directory))
        defer { storage.close() }
        #expect(storageError { try storage.saveIndex() } == .readOnly)
    }

    @Test func createIfMissing() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/Data.fs"
        let storage = try FileStorage(path: path, readOnly: false, createIfMissing: true)
        #expect(storage.size == 4)
        storage.close()
        #expect(try directory.read("Data.fs") == Array("FS30".utf8))
        // ZODB writes the magic into an empty file opened read-write.
        try directory.write("Empty.fs", [])
        let empty = try FileStorage(path: directory.path + "/Empty.fs", readOnly: false)
        empty.close()
        #expect(try directory.read("Empty.fs") == Array("FS30".utf8))
    }

    @Test func errorsMapToErrno() {
        #expect(StorageError.fileNotFound(path: "x").errno == 2)
        #expect(StorageError.objectNotFound(.root).errno == 2)
        #expect(StorageError.objectDeleted(.root).errno == 2)
        #expect(StorageError.corrupted(path: "x", offset: 1, reason: "r").errno == 5)
        #expect(StorageError.invalidIndexFile(path: "x", offset: 1, reason: "r").errno == 5)
        #expect(StorageError.io(path: "x", operation: "pread", errno: 28).errno == 28)
        #expect(StorageError.readOnly.errno == 30)
        #expect(StorageError.locked(path: "x").errno == 11)
        #expect(StorageError.fileReplaced(path: "x", reason: "r").errno == 116)
        #expect(StorageError.closed(path: "x").errno == 9)
        #expect(StorageError.corrupted(path: "/d/Data.fs", offset: 1234, reason: "bad").description.contains("1234"))
    }
}
