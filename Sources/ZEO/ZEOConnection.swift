import NIOCore
import Pickle
import Storage

/// One connection to a ZEO server, as a NIO channel handler: the handshake,
/// the calls waiting for replies, and the server's own calls.
///
/// Everything here runs on the channel's event loop, so the order in which
/// replies and `invalidateTransaction` messages take effect is the order
/// the server sent them. That is what keeps the client's cache coherent
/// (the same argument as ZEO's `ClientIO`): a call's `onReply` hook runs
/// before any later message is looked at, so a load's answer is cached
/// before an invalidation that follows it can drop it, and an answer that
/// follows an invalidation already holds the new revision.
final class ZEOConnection: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: every stored property is touched on `eventLoop` only.
    typealias InboundIn = ByteBuffer

    /// What the connection tells its client, on the event loop.
    struct Events: Sendable {
        /// The handshake finished: calls can be made.
        var ready: @Sendable (ZEOConnection) -> Void
        /// An asynchronous call from the server (`invalidateTransaction`, `info`).
        var serverCall: @Sendable (ZEOMessage) -> Void
        /// The connection is gone (closed by either side or failed).
        var closed: @Sendable (ZEOConnection, String) -> Void
    }

    private struct Pending {
        var promise: EventLoopPromise<PickleValue>
        var onReply: ((PickleValue) -> Void)?
    }

    let eventLoop: EventLoop
    private let events: Events
    private var context: ChannelHandlerContext?
    private(set) var encoding: MessageEncoding?
    /// The protocol version agreed (`Z5`).
    private(set) var protocolVersion = ""
    private var pending: [Int64: Pending] = [:]
    /// Current loads in flight, shared by every caller that asks for the
    /// same oid meanwhile (ZEO's `load_before` collapses them the same way).
    private var currentLoads: [OID: EventLoopFuture<PickleValue>] = [:]
    private var lastID: Int64 = 0
    private var isClosed = false
    private var flushScheduled = false
    private var closeReason = "connection closed"

    /// ZEO 5 is the only protocol ZEO 6 servers speak.
    static let protocolNumber: [UInt8] = Array("5".utf8)

    init(eventLoop: EventLoop, events: Events) {
        self.eventLoop = eventLoop
        self.events = events
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard let encoding else {
            let bytes = buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) ?? []
            // The server speaks first: its protocol version. We answer with
            // the same letter and the version we both know.
            guard let agreed = MessageEncoding(handshake: bytes), bytes.dropFirst().elementsEqual(Self.protocolNumber) else {
                fail(context: context, ZEOProtocolError.badHandshake(bytes))
                return
            }
            self.encoding = agreed
            protocolVersion = String(decoding: [agreed.letter] + Self.protocolNumber, as: UTF8.self)
            write(context: context, [agreed.letter] + Self.protocolNumber)
            events.ready(self)
            return
        }
        let message: ZEOMessage
        do {
            message = try encoding.decode(buffer)
        } catch {
            fail(context: context, ZEOProtocolError.badMessage("\(error)"))
            return
        }
        if message.isReply {
            guard let call = pending.removeValue(forKey: message.id) else { return }
            if message.isError {
                call.promise.fail(ServerErrorReply(message.arguments))
            } else {
                call.onReply?(message.arguments)
                call.promise.succeed(message.arguments)
            }
        } else {
            events.serverCall(message)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        shutDown(reason: closeReason)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(context: context, error)
    }

    private func fail(context: ChannelHandlerContext, _ error: Error) {
        closeReason = "\(error)"
        context.close(promise: nil)
    }

    private func shutDown(reason: String) {
        guard !isClosed else { return }
        isClosed = true
        let waiting = pending
        pending = [:]
        for call in waiting.values { call.promise.fail(ConnectionLost(reason: reason)) }
        events.closed(self, reason)
    }

    private func write(context: ChannelHandlerContext, _ bytes: [UInt8]) {
        context.writeAndFlush(NIOAny(bytes), promise: nil)
    }

    // MARK: Calls (on the event loop)

    /// Sends `method(arguments)` and returns its reply. `onReply` runs on
    /// the event loop when a non-error reply arrives, before any later
    /// message is handled.
    func call(_ method: String, _ arguments: [PickleValue],
              onReply: ((PickleValue) -> Void)? = nil) -> EventLoopFuture<PickleValue> {
        eventLoop.preconditionInEventLoop()
        let promise = eventLoop.makePromise(of: PickleValue.self)
        guard !isClosed, let context, let encoding else {
            promise.fail(ConnectionLost(reason: closeReason))
            return promise.futureResult
        }
        lastID += 1
        let bytes: [UInt8]
        do {
            bytes = try encoding.encodeCall(id: lastID, asynchronous: false, method: method, arguments: arguments)
        } catch {
            promise.fail(error)
            return promise.futureResult
        }
        pending[lastID] = Pending(promise: promise, onReply: onReply)
        context.write(NIOAny(bytes), promise: nil)
        if !flushScheduled {
            flushScheduled = true
            eventLoop.execute { [self] in
                flushScheduled = false
                self.context?.flush()
            }
        }
        return promise.futureResult
    }

    /// `loadBefore(oid, z64 max)`: the current revision, one request per
    /// oid however many callers (or prefetches) want it at once.
    func loadCurrent(_ oid: OID, onReply: @escaping (PickleValue) -> Void) -> EventLoopFuture<PickleValue> {
        if let inFlight = currentLoads[oid] { return inFlight }
        let future = call("loadBefore", [.bytes(oid.bytes), .bytes(TID.max.bytes)], onReply: onReply)
        currentLoads[oid] = future
        future.whenComplete { [self] _ in currentLoads[oid] = nil }
        return future
    }

    /// Sends an asynchronous call (no reply; the server reports a failure
    /// by closing the connection, or in the reply to a later `vote`).
    /// The future completes when the bytes were handed to the socket, so a
    /// caller streaming many calls can wait for it and not queue without bound.
    func callAsync(_ method: String, _ arguments: [PickleValue]) -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        guard !isClosed, let context, let encoding else {
            return eventLoop.makeFailedFuture(ConnectionLost(reason: closeReason))
        }
        do {
            let bytes = try encoding.encodeCall(id: 0, asynchronous: true, method: method, arguments: arguments)
            let promise = eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(NIOAny(bytes), promise: promise)
            return promise.futureResult
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    /// ZEO's keep-alive (`Protocol.heartbeat`): a reply to message -1.
    func heartbeat() {
        guard !isClosed, let context, let encoding else { return }
        let message = PickleValue.tuple([.int(-1), .int(0), .string(ZEOMessage.replyName), .none])
        let bytes: [UInt8]?
        switch encoding {
        case .pickle:
            var encoder = PickleEncoder()
            bytes = (try? encoder.encode(message)).map { encoder.bytes }
        case .msgpack:
            bytes = try? MessagePack.encode(message)
        }
        if let bytes { write(context: context, bytes) }
    }

    func close(reason: String = "closed by the client") {
        eventLoop.preconditionInEventLoop()
        closeReason = reason
        context?.close(promise: nil)
    }
}

/// The connection dropped before the reply came.
struct ConnectionLost: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}
