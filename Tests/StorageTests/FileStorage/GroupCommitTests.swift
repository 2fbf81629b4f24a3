import Foundation
@_spi(Testing) import Storage
import Testing
import TestSupport

/// Many threads committing at once: commits are serialised, share fsyncs,
/// and each returns only once durable; the file is one ZODB reads.
@Suite struct GroupCommitTests {
    @Test func commitsArrivingTogetherShareOneOrTwoFsyncs() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(path: directory.path + "/Data.fs", readOnly: false, createIfMissing: true)
        defer { storage.close() }
        _ = try storage.commit([.bytes(.root, nil, Pickles.mapping("root"))], metadata: TransactionMetadata())
        #expect(storage.syncCount == 1)
        // A slow disk: every commit that arrives during the first fsync is
        // written and then covered by the second one.
        var faults = CommitFaults()
        faults.syncDelay = 0.3
        storage.setCommitFaults(faults)
        let count = 24
        let oids = try storage.newOIDs(count)
        let results = Guarded<[CommitResult]>([])
        let durableAtReturn = Guarded<[Bool]>([])
        runConcurrently(count) { i in
            guard let result = try? storage.commit([.bytes(oids[i], nil, Pickles.mapping("\(i)"))], metadata: TransactionMetadata())
            else { return }
            // When commit returns, its transaction is published (it was fsynced).
            let visible = storage.size >= result.position + result.length + 8 && (try? storage.currentSerial(oids[i])) == result.tid
            results.withLock { $0.append(result) }
            durableAtReturn.withLock { $0.append(visible) }
        }
        let committed = results.withLock { $0 }
        #expect(committed.count == count)
        #expect(durableAtReturn.withLock { $0 }.allSatisfy { $0 })
        let syncs = storage.syncCount - 1
        #expect(syncs >= 1 && syncs <= 3, "\(count) commits took \(syncs) fsyncs")

        // The transactions lie end to end in tid order, each oid once.
        let sorted = committed.sorted { $0.position < $1.position }
        #expect(zip(sorted, sorted.dropFirst()).allSatisfy { $0.tid < $1.tid && $0.position + $0.length + 8 == $1.position })
        #expect(sorted.last.map { $0.position + $0.length + 8 } == storage.size)
        #expect(storage.objectCount == count + 1)
    }

    @Test func manyCommittersWithoutDelay() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/Data.fs"
        let storage = try FileStorage(path: path, readOnly: false, createIfMissing: true)
        let root = try storage.commit([.bytes(.root, nil, Pickles.mapping("root"))], metadata: TransactionMetadata())
        // 16 threads, each updating its own object 10 times (a chain of
        // serials), and all of them bumping one shared counter object with
        // retries on conflict, as ZODB applications do.
        let counter = try storage.newOIDs(1)[0]
        _ = try storage.commit([.bytes(counter, nil, Pickles.mapping("0"))], metadata: TransactionMetadata())
        let threads = 16, rounds = 10
        let oids = try storage.newOIDs(threads)
        let conflicts = Guarded(0)
        let failures = Guarded<[String]>([])
        runConcurrently(threads) { i in
            var serial: TID?
            for round in 0..<rounds {
                do {
                    serial = try storage.commit(
                        [.bytes(oids[i], serial, Pickles.mapping("\(i).\(round)"))],
                        metadata: TransactionMetadata(user: "thread \(i)", description: "round \(round)")
                    ).tid
                    while true {
                        let current = try storage.currentSerial(counter)
                        do {
                            _ = try storage.commit([.bytes(counter, current, Pickles.mapping("\(i).\(round)"))], metadata: TransactionMetadata())
                            break
                        } catch let error as StorageError {
                            guard case .conflict = error else { throw error }
                            conflicts.withLock { $0 += 1 }
                        }
                    }
                } catch {
                    failures.withLock { $0.append("\(i).\(round): \(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        let commits = 2 + 2 * threads * rounds
        #expect(storage.syncCount <= commits)
        let transactions = try storage.transactions()
        #expect(transactions.count == commits)
        #expect(zip(transactions, transactions.dropFirst()).allSatisfy { $0.tid < $1.tid })
        #expect(try storage.revisions(of: counter).count == 1 + threads * rounds)
        for (i, oid) in oids.enumerated() {
            #expect(try storage.load(oid).data == Pickles.mapping("\(i).\(rounds - 1)"))
        }
        #expect(transactions.first?.tid == root.tid)
        storage.close()

        let scanned = try FileStorage(path: path)
        defer { scanned.close() }
        #expect(scanned.warnings.isEmpty)
        #expect(scanned.indexSnapshot() == storage.indexSnapshot())
        if PythonPeer.enabled {
            let fstest = try PythonPeer.fstest(path)
            #expect(fstest.status == 0, "\(fstest.stdout)\(fstest.stderr)")
            let dump = try PythonDump(path)
            #expect(dump.transactions.count == commits)
            #expect(dump.usedIndex)
            #expect(dump.index?.position == scanned.size && dump.index?.equalsScan == true)
        }
    }

    @Test func aConflictWithAPendingCommitIsReportedOnceItIsVisible() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(path: directory.path + "/Data.fs", readOnly: false, createIfMissing: true)
        defer { storage.close() }
        let base = try storage.commit([.bytes(.root, nil, Pickles.mapping("root"))], metadata: TransactionMetadata())
        var faults = CommitFaults()
        faults.syncDelay = 0.4
        storage.setCommitFaults(faults)
        let first = Guarded<CommitResult?>(nil)
        let thread = Thread {
            let result = try? storage.commit([.bytes(.root, base.tid, Pickles.mapping("first"))], metadata: TransactionMetadata())
            first.withLock { $0 = result }
        }
        thread.start()
        // Wait until the first commit is written and waiting for its fsync.
        var waited = 0
        while (try? directory.read("Data.fs").count).map({ UInt64($0) == storage.size }) ?? true, waited < 500 {
            usleep(2_000)
            waited += 1
        }
        #expect(storage.size < UInt64(try directory.read("Data.fs").count))
        #expect(try storage.currentSerial(.root) == base.tid)
        // Built on the serial readers still see: a conflict, reported only
        // when the retry can see the serial that caused it.
        let error = storageError { try storage.commit([.bytes(.root, base.tid, Pickles.mapping("second"))], metadata: TransactionMetadata()) }
        let current = try storage.currentSerial(.root)
        #expect(current != base.tid)
        #expect(error == .conflict(oid: .root, expected: base.tid, actual: current))
        let retried = try storage.commit([.bytes(.root, current, Pickles.mapping("second"))], metadata: TransactionMetadata())
        var result: CommitResult?
        for _ in 0..<500 where result == nil {
            usleep(2_000)
            result = first.withLock { $0 }
        }
        #expect(result?.tid == current)
        #expect(try storage.load(.root) == (Pickles.mapping("second"), retried.tid))
    }

    @Test func concurrentCommitsOnOneSerialConflictAllButOne() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(path: directory.path + "/Data.fs", readOnly: false, createIfMissing: true)
        defer { storage.close() }
        let base = try storage.commit([.bytes(.root, nil, Pickles.mapping("root"))], metadata: TransactionMetadata())
        let outcomes = Guarded<[Result<CommitResult, StorageError>]>([])
        runConcurrently(10) { i in
            let result = Result { () throws(StorageError) in
                try storage.commit([.bytes(.root, base.tid, Pickles.mapping("\(i)"))], metadata: TransactionMetadata())
            }
            outcomes.withLock { $0.append(result) }
        }
        let results = outcomes.withLock { $0 }
        let winners = results.compactMap { try? $0.get() }
        #expect(winners.count == 1)
        for case .failure(let error) in results {
            #expect(error == .conflict(oid: .root, expected: base.tid, actual: winners.first?.tid))
        }
        #expect(try storage.transactions().count == 2)
    }
}
