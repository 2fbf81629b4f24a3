import Foundation
import Pickle
import Storage
import TestSupport
import Testing
import ZEO

/// The ZEO client against a real `runzeo` from the pinned venv, with
/// Python ZEO clients beside it.
@Suite(.serialized) struct ZEOStorageTests {
    /// A copy of the Zope fixture served by a fresh server.
    struct Served {
        let scratch: ScratchDirectory
        let server: ZEOServer
        var dataFS: String { server.dataFS }

        init(tcp: Bool = false, msgpack: Bool = false) throws {
            scratch = try ScratchDirectory()
            let store = scratch.path("Data.fs")
            try FileManager.default.copyItem(atPath: try TestEnvironment.zopeFixture().dataFS, toPath: store)
            server = try ZEOServer(dataFS: store, in: scratch.url.path, tcp: tcp, msgpack: msgpack)
        }

        func client(_ configure: (inout ZEOStorage.Options) -> Void = { _ in }) throws -> ZEOStorage {
            var options = ZEOStorage.Options()
            options.waitForServer = 10
            configure(&options)
            return try ZEOStorage(address: try #require(ServerAddress(server.address)), options: options)
        }

        /// Runs Python with `db` a `ZEO.DB` connected to the server.
        @discardableResult
        func python(_ body: String) throws -> String {
            let address = server.address.contains("/") ? "'\(server.address)'"
                : "('127.0.0.1', \(server.address.split(separator: ":").last!))"
            let code = "import ZEO, transaction\ndb = ZEO.DB(\(address))\n" + body + "\ndb.close()\n"
            let result = try runCommand(try TestEnvironment.python(), ["-c", code], timeout: 60)
            #expect(result.status == 0, "\(result.stderr)")
            return result.stdout
        }

        func finish() {
            server.stop()
            scratch.cleanUp()
        }
    }

    @Test(arguments: [(false, false), (true, false), (false, true)])
    func loadsWhatTheFileStorageHolds(tcp: Bool, msgpack: Bool) throws {
        let served = try Served(tcp: tcp, msgpack: msgpack)
        defer { served.finish() }
        let zeo = try served.client { $0.readOnly = true }
        defer { zeo.close() }
        let local = try FileStorage(path: served.dataFS, readOnly: true)
        defer { local.close() }
        #expect(zeo.lastTransaction == local.lastTransaction)
        var checked = 0
        for oid in local.indexSnapshot().dictionary.keys.sorted().prefix(300) {
            let mine = try zeo.load(oid)
            let theirs = try local.load(oid)
            #expect(mine.data == theirs.data && mine.tid == theirs.tid, "\(oid)")
            checked += 1
        }
        #expect(checked > 100)
        #expect(zeo.objectCount == local.objectCount)
        #expect(throws: StorageError.objectNotFound(OID(0xffff_ffff))) { try zeo.load(OID(0xffff_ffff)) }
        #expect(throws: StorageError.readOnly) { try zeo.newOIDs(1) }
    }

    @Test func commitsAreSeenByPythonAndConflictsAreRefused() throws {
        let served = try Served()
        defer { served.finish() }
        let zeo = try served.client()
        defer { zeo.close() }
        // Re-store the root unchanged: a real transaction, written by the server.
        let root = try zeo.load(.root)
        let committed = try zeo.commit([PendingRecord(oid: .root, expectedSerial: root.tid, segments: [.bytes(root.data)])],
                                       metadata: TransactionMetadata(user: "zodbfs", description: "touch the root"))
        #expect(committed.tid > root.tid)
        #expect(try zeo.currentSerial(.root) == committed.tid)
        let seen = try served.python("""
        import ZODB.utils
        print(ZODB.utils.tid_repr(db.storage.lastTransaction()))
        print(db.history(ZODB.utils.z64, 1)[0]['description'])
        """)
        #expect(seen.contains("0x" + committed.tid.description.drop(while: { $0 == "0" })) || seen.contains(committed.tid.repr), "\(seen)")
        #expect(seen.contains("touch the root"))
        // A stale serial: refused, nothing written.
        do {
            _ = try zeo.commit([PendingRecord(oid: .root, expectedSerial: root.tid, segments: [.bytes(root.data)])],
                               metadata: TransactionMetadata())
            Issue.record("a stale serial was accepted")
        } catch {
            #expect(error == .conflict(oid: .root, expected: root.tid, actual: committed.tid))
        }
        #expect(zeo.lastTransaction == committed.tid)
        // A new object, with an oid from the server.
        let oid = try #require(try zeo.newOIDs(1).first)
        var encoder = PickleEncoder()
        try encoder.encode(.global(module: "persistent.mapping", name: "PersistentMapping"))
        try encoder.encode(.dict([PickleDictEntry(key: .string("data"), value: .dict([]))]))
        let created = try zeo.commit([PendingRecord(oid: oid, expectedSerial: nil, segments: [.bytes(encoder.bytes)])],
                                     metadata: TransactionMetadata())
        #expect(try zeo.load(oid).tid == created.tid)
    }

    /// A stale serial on an object with conflict resolution (a
    /// `BTrees.Length`, as a BTreeFolder2's `_count`): the server merges the
    /// two changes, and the commit says which records it did not store as
    /// sent, so the mount knows its cached view is not the store's.
    @Test func aConflictTheServerResolvesIsReported() throws {
        let served = try Served()
        defer { served.finish() }
        let zeo = try served.client()
        defer { zeo.close() }
        let made = try served.python("""
        import BTrees.Length, ZODB.utils
        conn = db.open()
        conn.root()['zodbfs-length'] = length = BTrees.Length.Length(10)
        transaction.commit()
        print(ZODB.utils.u64(length._p_oid))
        """)
        let oid = OID(try #require(UInt64(made.trimmingCharacters(in: .whitespacesAndNewlines))))
        let before = try zeo.load(oid)
        try served.python("""
        conn = db.open()
        conn.root()['zodbfs-length'].change(5)
        transaction.commit()
        """)
        var encoder = PickleEncoder()
        try encoder.encode(.global(module: "BTrees.Length", name: "Length"))
        try encoder.encode(.int(11))
        let committed = try zeo.commit([PendingRecord(oid: oid, expectedSerial: before.tid, segments: [.bytes(encoder.bytes)])],
                                       metadata: TransactionMetadata())
        #expect(committed.resolved == [oid])
        // 10, changed by 5 there and by 1 here.
        let value = try served.python("""
        conn = db.open()
        print(conn.root()['zodbfs-length']())
        """)
        #expect(value.trimmingCharacters(in: .whitespacesAndNewlines) == "16")
        #expect(try zeo.load(oid).data != encoder.bytes)
    }

    @Test func invalidationsFromAnotherClientArriveWithinASecond() throws {
        let served = try Served()
        defer { served.finish() }
        let zeo = try served.client { $0.readOnly = true }
        defer { zeo.close() }
        let before = try zeo.load(.root)
        _ = try zeo.poll()
        try served.python("""
        conn = db.open()
        conn.root()['zodbfs-test'] = 42
        transaction.commit()
        """)
        var changed: [TransactionSummary] = []
        let deadline = Date().addingTimeInterval(1)
        while changed.isEmpty && Date() < deadline {
            changed = try zeo.poll()
            if changed.isEmpty { Thread.sleep(forTimeInterval: 0.01) }
        }
        #expect(changed.count == 1 && changed.first?.oids.contains(.root) == true)
        let after = try zeo.load(.root)
        #expect(after.tid > before.tid && after.data != before.data)
        #expect(zeo.lastTransaction == after.tid)
    }

    @Test func survivesAServerRestartAndCatchesUpOnWhatChangedMeanwhile() throws {
        let served = try Served()
        defer { served.finish() }
        let zeo = try served.client { $0.readOnly = true; $0.waitForServer = 2 }
        defer { zeo.close() }
        let before = try zeo.load(.root)
        served.server.stop()
        // Away: a load that misses the cache fails after the wait, no hang.
        let started = Date()
        #expect(throws: StorageError.self) { try zeo.load(OID(0xffff_fffe)) }
        #expect(Date().timeIntervalSince(started) < 10)
        // Changed while we were away, by a client of the file itself.
        let code = """
        import ZODB, ZODB.FileStorage, transaction
        db = ZODB.DB(ZODB.FileStorage.FileStorage('\(served.dataFS)'))
        conn = db.open(); conn.root()['changed-while-away'] = 1; transaction.commit(); db.close()
        """
        #expect(try runCommand(try TestEnvironment.python(), ["-c", code]).status == 0)
        try served.server.start()
        var after = before
        let deadline = Date().addingTimeInterval(15)
        while after.tid == before.tid && Date() < deadline {
            after = (try? zeo.load(.root)) ?? before
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(after.tid > before.tid)
        #expect(try zeo.poll().contains { $0.oids.contains(.root) })
        #expect(zeo.statusLines.contains { $0.hasPrefix("connections_made: 2") })
    }
}
