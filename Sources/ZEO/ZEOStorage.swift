import Foundation
import Logging
import NIOCore
import NIOPosix
import Pickle
import Storage
import SystemPackage

/// A ZODB storage served by a ZEO server: zodbfs as one more client beside
/// the Zope processes (ZEO 5 protocol as ZEO 6.2 speaks it;
/// `ZEO/ClientStorage.py` and `ZEO/asyncio/client.py` are the model).
///
/// ## Concurrency
///
/// - One event-loop thread owns the connection (``ZEOConnection``): it
///   sends every message and handles every reply, invalidation and `info`
///   in the server's order, and it alone changes the object cache's
///   contents — loads are cached by the reply's `onReply` hook, commits by
///   `tpc_finish`'s, invalidations drop entries — so the cache follows
///   the server's order of events.
/// - Filesystem threads make blocking calls: they hand a message to the
///   event loop and wait for the reply (bounded by
///   ``Options/callTimeout``). Cache hits never touch the event loop.
/// - `commitLock` serialises two-phase commits: the server allows one
///   transaction per connection. Loads go on during a commit.
/// - `state` (a `Guarded` lock) guards the connection, the cache, the queue of
///   invalidations for ``poll()`` and the server's figures; it is never
///   held while waiting for the network.
///
/// ## Connection loss
///
/// A dropped connection is made again in the background, every
/// ``Options/reconnectInterval`` seconds. Calls meanwhile wait up to
/// ``Options/waitForServer`` seconds, then fail with
/// ``StorageError/disconnected(server:reason:)`` (EIO through the mount).
/// Once connected again the client verifies its cache as ZEO's does
/// (`ClientIO.verify`): the server's last tid, then `getInvalidations`
/// since the last tid it knew; if the server cannot list them, every
/// object this client has loaded is treated as changed.
public final class ZEOStorage: ServerPackedStorage {
    public struct Options: Sendable {
        /// The storage name the server serves (`<filestorage 1>`).
        public var storageName = "1"
        public var readOnly = false
        /// Bytes of object records kept in memory.
        public var cacheBytes = 64 << 20
        /// How long a call waits for a connection before it fails.
        public var waitForServer: Double = 30
        /// How long a call waits for its reply before the connection is
        /// taken as dead (a server that hangs is not waited for forever).
        public var callTimeout: Double = 120
        public var reconnectInterval: Double = 0.5
        public var logger = Logger(label: "zodbfs.zeo")
        public init() {}
    }

    private struct State {
        /// The registered, verified connection; nil while (re)connecting.
        var connection: ZEOConnection?
        var isConnecting = false
        var isClosed = false
        /// Set once a connection was verified: later ones verify against it.
        var lastTID: TID?
        var cache: ObjectCache
        var invalidations: [TransactionSummary] = []
        /// Every oid this client loaded, for the rare full invalidation.
        var loaded: Set<OID> = []
        var objectCount = 0
        var size: UInt64 = 0
        var serverStorageName = ""
        var protocolVersion = ""
        var connects = 0
        var connectedSince: Date?
        var lastProblem: String?
        var freeOIDs: [OID] = []
    }

    public let address: ServerAddress
    public let options: Options
    public var isReadOnly: Bool { options.readOnly }
    public var name: String { "ZEO \(address)" }
    public var seesOtherWriters: Bool { true }
    public var loadsAreRemote: Bool { true }

    private let group: MultiThreadedEventLoopGroup
    private let state: Guarded<State>
    private let commitLock = Guarded<Int64>(0)
    private var logger: Logger { options.logger }

    /// Connects and registers; throws ``StorageError/disconnected(server:reason:)``
    /// when no connection was made within ``Options/waitForServer``.
    public init(address: ServerAddress, options: Options = Options()) throws(StorageError) {
        self.address = address
        self.options = options
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        state = Guarded(State(cache: ObjectCache(budget: options.cacheBytes)))
        connect()
        do {
            _ = try operationalConnection()
        } catch {
            close()
            throw error
        }
    }

    deinit {
        // Not the synchronous shutdown: the last reference may go away on
        // the event loop itself (a reply's hook), which must not wait for itself.
        group.shutdownGracefully { _ in }
    }

    /// Closes the connection and stops reconnecting. Later calls fail.
    public func close() {
        let connection = state.withLock { s -> ZEOConnection? in
            s.isClosed = true
            defer { s.connection = nil }
            return s.connection
        }
        if let connection {
            try? connection.eventLoop.submit { connection.close() }.wait()
        }
    }

    // MARK: - ObjectStorage

    public var lastTransaction: TID { state.withLock { $0.lastTID ?? .zero } }
    public var size: UInt64 { state.withLock { $0.size } }
    public var objectCount: Int { state.withLock { $0.objectCount } }

    public var statusLines: [String] {
        state.withLock { s in
            let connection: String
            if let since = s.connectedSince, s.connection != nil {
                connection = "connected since \(since.formatted(.iso8601)) (\(s.protocolVersion))"
            } else {
                connection = "disconnected, reconnecting" + (s.lastProblem.map { " (\($0))" } ?? "")
            }
            return [
                "storage: ZEO server \(address), storage \(options.storageName)"
                    + (s.serverStorageName.isEmpty ? "" : " (\(s.serverStorageName))"),
                "connection: \(connection)",
                "connections_made: \(s.connects)",
                "size: \(s.size)",
                "objects: \(s.objectCount)",
                "cache: \(s.cache.count) objects, \(s.cache.bytes) of \(s.cache.budget) bytes, "
                    + "\(s.cache.hits) hits, \(s.cache.misses) misses",
            ]
        }
    }

    /// ZODB's current load: `loadBefore(oid, z64 max)`, through the cache.
    public func load(_ oid: OID) throws(StorageError) -> (data: [UInt8], tid: TID) {
        if let hit = state.withLock({ $0.cache.lookUp(oid) }), let data = hit.data { return (data, hit.tid) }
        let reply = try call("loadBefore", [], oid: oid, retry: true) { [self] connection in
            // A prefetch's reply may have landed between the look-up above
            // and now (replies are cached on this loop, in order): asking
            // again would queue behind every prefetch still in flight.
            if let held = state.withLock({ $0.cache.held(oid) }), let data = held.data {
                return connection.eventLoop.makeSucceededFuture(.tuple([.bytes(data), .bytes(held.tid.bytes), .none]))
            }
            return connection.loadCurrent(oid, onReply: cacheCurrent(oid))
        }
        guard let loaded = Self.loadedRevision(reply) else {
            if reply.isNone { throw .objectNotFound(oid) }
            throw .serverError(server: "\(address)", class: "?", message: "loadBefore answered \(reply)")
        }
        return (loaded.data, loaded.start)
    }

    /// Asks for the current revisions of `oids` without waiting: the
    /// replies land in the cache, where the loads that follow find them.
    /// A chunk table reading a long Pdata chain guesses the links ahead
    /// this way (Zope allocates a chain's oids consecutively), so the
    /// round trips overlap instead of adding up.
    public func prefetch(_ oids: [OID]) {
        let (missing, connection) = state.withLock { s in (oids.filter { !s.cache.holds($0) }, s.connection) }
        guard !missing.isEmpty, let connection else { return }
        connection.eventLoop.execute { [self] in
            for oid in missing { _ = connection.loadCurrent(oid, onReply: cacheCurrent(oid)) }
        }
    }

    /// On the event loop, in order: caches a `loadBefore` answer that is current.
    private func cacheCurrent(_ oid: OID) -> (PickleValue) -> Void {
        { [self] value in
            guard let loaded = Self.loadedRevision(value), loaded.end == nil else { return }
            state.withLock { s in
                s.cache.store(oid, data: loaded.data, tid: loaded.start)
                s.loaded.insert(oid)
            }
        }
    }

    public func loadBefore(_ oid: OID, before tid: TID) throws(StorageError) -> (data: [UInt8], start: TID, end: TID?)? {
        let reply = try call("loadBefore", [.bytes(oid.bytes), .bytes(tid.bytes)], oid: oid, retry: true)
        if reply.isNone { return nil }
        guard let loaded = Self.loadedRevision(reply) else {
            throw .serverError(server: "\(address)", class: "?", message: "loadBefore answered \(reply)")
        }
        return loaded
    }

    /// `(data, start, end)` as `loadBefore` answers it.
    private static func loadedRevision(_ value: PickleValue) -> (data: [UInt8], start: TID, end: TID?)? {
        guard case .tuple(let parts) = value, parts.count == 3, let data = parts[0].bytesValue,
              let start = parts[1].bytesValue.flatMap({ TID(bytes: $0) }) else { return nil }
        return (data, start, parts[2].bytesValue.flatMap { TID(bytes: $0) })
    }

    public func currentSerial(_ oid: OID) throws(StorageError) -> TID? {
        if let hit = state.withLock({ $0.cache.lookUp(oid) }) { return hit.tid }
        do throws(StorageError) {
            return try load(oid).tid
        } catch .objectNotFound {
            return nil
        }
    }

    /// From a pool filled by `new_oids` (100 at a time, as ClientStorage does).
    public func newOIDs(_ count: Int) throws(StorageError) -> [OID] {
        guard !isReadOnly else { throw .readOnly }
        var result: [OID] = []
        while result.count < count {
            let taken = state.withLock { s -> [OID] in
                let n = min(count - result.count, s.freeOIDs.count)
                defer { s.freeOIDs.removeFirst(n) }
                return Array(s.freeOIDs.prefix(n))
            }
            result += taken
            if result.count < count {
                let reply = try call("new_oids", [], retry: true)
                let fresh = Self.items(reply).compactMap { $0.bytesValue.flatMap { OID(bytes: $0) } }
                guard !fresh.isEmpty else { throw .serverError(server: "\(address)", class: "?", message: "new_oids answered \(reply)") }
                state.withLock { $0.freeOIDs += fresh }
            }
        }
        return result
    }

    public func poll() throws(StorageError) -> [TransactionSummary] {
        state.withLock { s in
            defer { s.invalidations = [] }
            return s.invalidations
        }
    }

    /// ZODB's two-phase commit over ZEO: `tpc_begin` and one `storea` per
    /// record (asynchronous, streamed), `vote` (where the server takes its
    /// commit lock and checks serials), `tpc_finish` (returns the tid).
    /// A conflict the server could not resolve comes back from `vote`: the
    /// server has already aborted, nothing was written, and the caller
    /// builds its change again from fresh state.
    public func commit(_ records: [PendingRecord], metadata: TransactionMetadata) throws(StorageError) -> CommitResult {
        guard !isReadOnly else { throw .readOnly }
        return try commitLock.withLock { (transactions: inout Int64) throws(StorageError) -> CommitResult in
            transactions += 1
            let txn = PickleValue.int(transactions)
            let connection = try operationalConnection()
            var extensionValue = PickleValue.dict([])
            if !metadata.extensionBytes.isEmpty {
                var decoder = PickleDecoder(bytes: metadata.extensionBytes)
                extensionValue = (try? decoder.decodeNext()) ?? .dict([])
            }
            try send(connection, "tpc_begin", [
                txn, .bytes(Array(metadata.user.utf8)), .bytes(Array(metadata.description.utf8)),
                extensionValue, .none, .string(" "),
            ])
            var total = 0
            var unflushed = 0
            var kept: [OID: [UInt8]] = [:]
            for record in records {
                let data = try Self.materialize(record)
                total += data.count
                unflushed += data.count
                if data.count <= 16 << 10 { kept[record.oid] = data }
                let serial = record.expectedSerial?.bytes ?? TID.zero.bytes
                let sent = try send(connection, "storea", [.bytes(record.oid.bytes), .bytes(serial), .bytes(data), txn],
                                    wait: unflushed >= 4 << 20)
                if sent { unflushed = 0 }
            }
            let voted: PickleValue
            do throws(StorageError) {
                voted = try call(on: connection, "vote", [txn], timeout: options.callTimeout)
            } catch {
                // The server aborted on its side already; make sure, and
                // drop what we hold of the objects concerned.
                abort(txn, on: connection)
                state.withLock { s in for record in records { s.cache.invalidate(record.oid) } }
                throw error
            }
            var resolved: Set<OID> = []
            for item in Self.items(voted) {
                if let oid = item.bytesValue.flatMap({ OID(bytes: $0) }) {
                    resolved.insert(oid)
                } else {
                    // A server run with client-side conflict resolution hands
                    // the conflict back; zodbfs rebuilds its change instead.
                    abort(txn, on: connection)
                    let oid = item["oid"]?.bytesValue.flatMap { OID(bytes: $0) } ?? records[0].oid
                    state.withLock { $0.cache.invalidate(oid) }
                    throw .conflict(oid: oid, expected: nil, actual: nil)
                }
            }
            let finished: PickleValue
            do throws(StorageError) {
                finished = try call(on: connection, "tpc_finish", [txn], timeout: options.callTimeout) { [self, kept, resolved] value in
                    guard let tid = value.bytesValue.flatMap({ TID(bytes: $0) }) else { return }
                    state.withLock { s in
                        for record in records {
                            s.cache.invalidate(record.oid)
                            if !resolved.contains(record.oid) { s.cache.store(record.oid, data: kept[record.oid], tid: tid) }
                        }
                        if tid > (s.lastTID ?? .zero) { s.lastTID = tid }
                    }
                }
            } catch .disconnected(let server, let reason) {
                throw .disconnected(server: server, reason: "\(reason); the transaction may or may not have been committed")
            }
            guard let tid = finished.bytesValue.flatMap({ TID(bytes: $0) }) else {
                throw .serverError(server: "\(address)", class: "?", message: "tpc_finish answered \(finished)")
            }
            return CommitResult(tid: tid, position: 0, length: UInt64(total), resolved: resolved)
        }
    }

    /// `tpc_abort`, best effort: the transaction is abandoned either way.
    private func abort(_ txn: PickleValue, on connection: ZEOConnection) {
        _ = try? call(on: connection, "tpc_abort", [txn], timeout: 10)
    }

    /// Asks the server to pack its storage as of `time` (seconds since the
    /// epoch), as `zeopack` does (`pack(t, wait=True)`), and returns when
    /// the server has finished. No time limit: a pack takes as long as it takes.
    public func pack(before time: Double) throws(StorageError) {
        _ = try call("pack", [.float(time), .bool(true)], retry: false, timeout: nil)
    }

    // MARK: - Calls

    /// The record's pickle in memory: `storea` carries it whole.
    private static func materialize(_ record: PendingRecord) throws(StorageError) -> [UInt8] {
        var data = [UInt8](repeating: 0, count: record.payloadLength)
        var at = 0
        for segment in record.segments {
            switch segment {
            case .bytes(let bytes):
                data.replaceSubrange(at..<at + bytes.count, with: bytes)
            case .file(let descriptor, let offset, let length):
                let n: Int
                do {
                    n = try descriptor.readFully(fromAbsoluteOffset: UInt64(offset), count: length, into: &data, at: at)
                } catch {
                    throw .io(path: "spool", operation: "read", errno: error.rawValue)
                }
                guard n == length else {
                    throw .invalidTransaction(reason: "a payload range of \(record.oid) ends \(length - n) bytes early")
                }
            }
            at += segment.length
        }
        return data
    }

    private static func items(_ value: PickleValue) -> [PickleValue] {
        switch value {
        case .tuple(let items), .list(let items): items
        default: []
        }
    }

    /// A call on whatever connection is current, waiting for one if needed;
    /// `retry` repeats it on a new connection when the old one drops
    /// (only for calls that change nothing).
    private func call(_ method: String, _ arguments: [PickleValue], oid: OID? = nil, retry: Bool,
                      timeout: Double? = -1,
                      request: (@Sendable (ZEOConnection) -> EventLoopFuture<PickleValue>)? = nil) throws(StorageError) -> PickleValue {
        let deadline = Date().addingTimeInterval(options.waitForServer)
        while true {
            let connection = try operationalConnection(until: deadline)
            do throws(StorageError) {
                return try call(on: connection, method, arguments, oid: oid,
                                timeout: timeout == -1 ? options.callTimeout : timeout, request: request)
            } catch .disconnected(let server, let reason) {
                guard retry, Date() < deadline else { throw .disconnected(server: server, reason: reason) }
            }
        }
    }

    /// - Parameter request: how to ask, when not plainly `method(arguments)`
    ///   (a shared current load); runs on the event loop.
    private func call(on connection: ZEOConnection, _ method: String, _ arguments: [PickleValue], oid: OID? = nil,
                      timeout: Double?, onReply: (@Sendable (PickleValue) -> Void)? = nil,
                      request: (@Sendable (ZEOConnection) -> EventLoopFuture<PickleValue>)? = nil) throws(StorageError) -> PickleValue {
        let future = connection.eventLoop.flatSubmit { () -> EventLoopFuture<PickleValue> in
            let reply = request?(connection) ?? connection.call(method, arguments, onReply: onReply)
            guard let timeout else { return reply }
            let promise = connection.eventLoop.makePromise(of: PickleValue.self)
            let box = CompletionFlag()
            let timer = connection.eventLoop.scheduleTask(in: .milliseconds(Int64(timeout * 1000))) {
                guard !box.isSet else { return }
                box.isSet = true
                // A server that does not answer is as good as gone: drop
                // the connection so that the next call makes a new one.
                let reason = "no answer to \(method) within \(Int(timeout)) s"
                connection.close(reason: reason)
                promise.fail(ConnectionLost(reason: reason))
            }
            reply.whenComplete { result in
                guard !box.isSet else { return }
                box.isSet = true
                timer.cancel()
                promise.completeWith(result)
            }
            return promise.futureResult
        }
        do {
            return try future.wait()
        } catch let error as ServerErrorReply {
            throw error.storageError(server: "\(address)", oid: oid)
        } catch let error as ConnectionLost {
            throw .disconnected(server: "\(address)", reason: error.reason)
        } catch {
            throw .serverError(server: "\(address)", class: "?", message: "\(error)")
        }
    }

    /// Sends an asynchronous call; with `wait`, returns only once it was
    /// written to the socket (so streamed records do not pile up in memory).
    @discardableResult
    private func send(_ connection: ZEOConnection, _ method: String, _ arguments: [PickleValue],
                      wait: Bool = false) throws(StorageError) -> Bool {
        let future = connection.eventLoop.flatSubmit { connection.callAsync(method, arguments) }
        guard wait else { return false }
        do {
            try future.wait()
        } catch {
            throw .disconnected(server: "\(address)", reason: "\(error)")
        }
        return true
    }

    // MARK: - Connecting

    private func operationalConnection(until deadline: Date? = nil) throws(StorageError) -> ZEOConnection {
        let deadline = deadline ?? Date().addingTimeInterval(options.waitForServer)
        while true {
            let (connection, closed, problem) = state.withLock { ($0.connection, $0.isClosed, $0.lastProblem) }
            if closed { throw .closed(path: name) }
            if let connection { return connection }
            if Date() >= deadline {
                throw .disconnected(server: "\(address)", reason: "no connection within \(Int(options.waitForServer)) s"
                                    + (problem.map { " (\($0))" } ?? ""))
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// Starts a connection attempt unless one is under way.
    private func connect() {
        let start = state.withLock { s -> Bool in
            guard !s.isClosed, !s.isConnecting, s.connection == nil else { return false }
            s.isConnecting = true
            return true
        }
        guard start else { return }
        let eventLoop = group.next()
        let events = ZEOConnection.Events(
            ready: { [weak self] connection in self?.register(connection) },
            serverCall: { [weak self] message in self?.serverCall(message) },
            closed: { [weak self] connection, reason in self?.connectionClosed(connection, reason: reason) })
        let connection = ZEOConnection(eventLoop: eventLoop, events: events)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .channelOption(ChannelOptions.socketOption(.so_keepalive), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(SizedMessageDecoder()),
                        MessageToByteHandler(SizedMessageEncoder()),
                        connection,
                    ])
                }
            }
        let connecting: EventLoopFuture<Channel>
        switch address {
        case .tcp(let host, let port): connecting = bootstrap.connect(host: host, port: port)
        case .unix(let path): connecting = bootstrap.connect(unixDomainSocketPath: path)
        }
        connecting.whenFailure { [weak self] error in self?.attemptFailed("cannot connect: \(error)") }
    }

    private func attemptFailed(_ problem: String) {
        let retry = state.withLock { s -> Bool in
            s.isConnecting = false
            s.lastProblem = problem
            return !s.isClosed
        }
        guard retry else { return }
        group.next().scheduleTask(in: .milliseconds(Int64(options.reconnectInterval * 1000))) { [weak self] in
            self?.connect()
        }
    }

    /// After the handshake: `register`, then verify the cache against the
    /// server (`lastTransaction` from `register`, `getInvalidations`), then
    /// `get_info`; only then is the connection handed to callers.
    /// Invalidations that arrive meanwhile are applied as they come: they
    /// are newer than anything being verified.
    private func register(_ connection: ZEOConnection) {
        let readOnly = options.readOnly
        let server = "\(address)"
        connection.call("register", [.string(options.storageName), .bool(readOnly)])
            .flatMap { [weak self] reply -> EventLoopFuture<Void> in
                guard let self else { return connection.eventLoop.makeSucceededVoidFuture() }
                return self.verify(connection, serverTID: reply.bytesValue.flatMap { TID(bytes: $0) } ?? .zero)
            }
            .flatMap { connection.call("get_info", []) }
            .whenComplete { [weak self] result in
                guard let self else { return }
                switch result {
                case .success(let info):
                    let heartbeat = connection.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(60), delay: .seconds(60)) { task in
                        connection.heartbeat()
                    }
                    let keep = state.withLock { s -> Bool in
                        s.isConnecting = false
                        guard !s.isClosed else { return false }
                        s.connection = connection
                        s.connects += 1
                        s.connectedSince = Date()
                        s.protocolVersion = connection.protocolVersion
                        s.lastProblem = nil
                        Self.apply(info: info, to: &s)
                        return true
                    }
                    heartbeatTasks.withLock { $0[ObjectIdentifier(connection)] = heartbeat }
                    if keep {
                        logger.info("connected to ZEO server \(server) (\(connection.protocolVersion))")
                    } else {
                        connection.close()
                    }
                case .failure(let error):
                    let problem = (error as? ServerErrorReply).map { "register: \($0.className): \($0.message)" } ?? "\(error)"
                    logger.error("ZEO server \(server): \(problem)")
                    connection.close(reason: problem)
                }
            }
    }

    private let heartbeatTasks = Guarded<[ObjectIdentifier: RepeatedTask]>([:])

    private func verify(_ connection: ZEOConnection, serverTID: TID) -> EventLoopFuture<Void> {
        let known = state.withLock { $0.lastTID }
        guard let known, known != serverTID else {
            state.withLock { s in if s.lastTID == nil { s.lastTID = serverTID } }
            return connection.eventLoop.makeSucceededVoidFuture()
        }
        return connection.call("getInvalidations", [.bytes(known.bytes)]).map { [weak self] reply in
            guard let self else { return }
            state.withLock { s in
                if case .tuple(let parts) = reply, parts.count == 2, let tid = parts[0].bytesValue.flatMap({ TID(bytes: $0) }) {
                    let oids = Self.items(parts[1]).compactMap { $0.bytesValue.flatMap { OID(bytes: $0) } }
                    Self.invalidate(tid: tid, oids: oids, in: &s)
                } else {
                    // The server keeps too few transactions to say what
                    // changed: everything this client has seen may have.
                    self.logger.warning("ZEO server \(self.address): too much changed while disconnected; dropping the whole cache")
                    let everything = Array(s.loaded)
                    s.cache.clear()
                    Self.invalidate(tid: serverTID, oids: everything, in: &s)
                }
                if serverTID > (s.lastTID ?? .zero) { s.lastTID = serverTID }
            }
        }
    }

    private static func invalidate(tid: TID, oids: [OID], in s: inout State) {
        for oid in oids { s.cache.invalidate(oid) }
        s.invalidations.append(TransactionSummary(tid: tid, position: 0, status: UInt8(ascii: " "),
                                                  user: [], description: [], extension: [], oids: oids))
        if tid > (s.lastTID ?? .zero) { s.lastTID = tid }
    }

    private static func apply(info: PickleValue, to s: inout State) {
        if let length = info["length"]?.intValue { s.objectCount = Int(length) }
        if let size = info["size"]?.intValue { s.size = UInt64(max(0, size)) }
        if let name = info["name"]?.stringValue { s.serverStorageName = name }
    }

    /// The server's asynchronous calls (`ClientStorage`'s `client_methods`).
    private func serverCall(_ message: ZEOMessage) {
        let arguments = Self.items(message.arguments)
        switch message.name {
        case "invalidateTransaction":
            guard arguments.count == 2, let tid = arguments[0].bytesValue.flatMap({ TID(bytes: $0) }) else { return }
            let oids = Self.items(arguments[1]).compactMap { $0.bytesValue.flatMap { OID(bytes: $0) } }
            state.withLock { Self.invalidate(tid: tid, oids: oids, in: &$0) }
        case "info":
            guard let info = arguments.first else { return }
            state.withLock { Self.apply(info: info, to: &$0) }
        default:
            logger.debug("ZEO server \(address) called \(message.name), ignored")
        }
    }

    private func connectionClosed(_ connection: ZEOConnection, reason: String) {
        heartbeatTasks.withLock { $0.removeValue(forKey: ObjectIdentifier(connection))?.cancel() }
        let (wasCurrent, closed) = state.withLock { s -> (Bool, Bool) in
            let current = s.connection === connection
            if current {
                s.connection = nil
                s.connectedSince = nil
            } else {
                s.isConnecting = false
            }
            s.lastProblem = reason
            return (current, s.isClosed)
        }
        guard !closed else { return }
        if wasCurrent { logger.warning("lost the ZEO server \(address): \(reason); reconnecting") }
        attemptFailed(reason)
    }
}

/// Set once, on the event loop: which of a reply and its timer came first.
private final class CompletionFlag: @unchecked Sendable {
    // @unchecked: only touched on one event loop.
    var isSet = false
}
