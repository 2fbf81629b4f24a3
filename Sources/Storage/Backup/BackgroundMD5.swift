import Crypto
import Dispatch
import SystemPackage

/// The md5 of a stream of chunks, computed on a Dispatch worker while the
/// caller goes on reading, compressing and writing: md5 runs at about the
/// speed of a disk, so done in line it would nearly double a backup's time.
///
/// At most ``depth`` chunks wait at a time (``update(_:)`` blocks while the
/// queue is full), so memory stays bounded whatever the file's size. Every
/// instance must end with ``finalize()`` or ``cancel()``, which stop its
/// thread; ``hashing(_:)`` makes sure of it.
final class BackgroundMD5: Sendable {
    static let depth = 8

    private struct State: Sendable {
        var queue: [[UInt8]] = []
        var ended = false
        var cancelled = false
        var digest: String?
    }

    private let state = Monitor(State())

    private init() {}

    /// Runs `body` with a hasher, then finalizes it: the md5 of everything
    /// `body` passed to ``update(_:)``, lowercase hex as `hexdigest()`.
    static func hashing<Result>(_ body: (BackgroundMD5) throws(BackupError) -> Result) throws(BackupError) -> (Result, String) {
        let hasher = BackgroundMD5()
        DispatchQueue.global(qos: .utility).async { hasher.run() }
        let result: Result
        do {
            result = try body(hasher)
        } catch {
            hasher.cancel()
            throw error
        }
        return (result, hasher.finalize())
    }

    /// Queues `bytes` for hashing; waits while ``depth`` chunks are queued.
    func update(_ bytes: [UInt8]) {
        state.waitUntil { (s: inout State) -> Bool? in
            guard s.queue.count < Self.depth else { return nil }
            s.queue.append(bytes)
            return true
        }
        state.broadcast()
    }

    /// Waits for the queued chunks and returns the digest.
    private func finalize() -> String {
        state.withLock { $0.ended = true }
        state.broadcast()
        return state.waitUntil { $0.digest }
    }

    /// Stops the thread without waiting for the queued chunks.
    private func cancel() {
        state.withLock { $0.cancelled = true }
        state.broadcast()
    }

    private func run() {
        var md5 = Insecure.MD5()
        while true {
            let next: [UInt8]? = state.waitUntil { (s: inout State) -> [UInt8]?? in
                if s.cancelled { return .some(nil) }
                if !s.queue.isEmpty { return .some(s.queue.removeFirst()) }
                return s.ended ? .some(nil) : nil
            }
            state.broadcast()
            guard let next else { break }
            md5.update(data: next)
        }
        let digest = hex(md5.finalize())
        state.withLock { $0.digest = digest }
        state.broadcast()
    }
}

/// Lowercase hex, as Python's `hexdigest()`.
func hex(_ digest: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    for byte in digest {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 15)])
    }
    return String(decoding: text, as: UTF8.self)
}
