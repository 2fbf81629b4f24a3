import Foundation
import Storage
import Synchronization

/// A background thread that runs one step every `interval` seconds until
/// stopped — how a read-only mount notices transactions that a Zope
/// process appends to the same Data.fs. It runs outside any FUSE request,
/// which is what makes it safe for the step to notify the kernel.
final class Follower: Sendable {
    private let interval: Double
    private let step: @Sendable () -> Void
    private let stopped = Atomic<Bool>(false)
    private let finished = Guarded<Bool>(false)

    init(interval: Double, step: @escaping @Sendable () -> Void) {
        self.interval = interval
        self.step = step
    }

    func start() {
        let thread = Thread { [self] in
            while !stopped.load(ordering: .acquiring) {
                step()
                Thread.sleep(forTimeInterval: interval)
            }
            finished.withLock { $0 = true }
        }
        thread.name = "zodbfs-follow"
        thread.start()
    }

    /// Asks the thread to stop and waits (a bounded time) until it has.
    func stop() {
        stopped.store(true, ordering: .releasing)
        for _ in 0..<Int(max(1, (interval * 4) / 0.01)) {
            if finished.withLock({ $0 }) { return }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }
}
