// A mutex with a condition variable, for the one place where a thread must
// sleep until another thread changes shared state: a commit waiting for the
// fsync that covers it (`GroupCommit`). ``Guarded`` has no
// condition variable, so this wraps pthread's.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A value guarded by a mutex, with a condition variable to wait for changes
/// of it (a monitor in Hoare's sense).
///
/// The mutex and condition live in heap memory that never moves, as pthread
/// requires. Waits are Mesa-style: a woken waiter re-checks its condition,
/// which ``waitUntil(_:)`` does by calling its body again.
final class Monitor<Value: Sendable>: @unchecked Sendable {
    // @unchecked: `value` is only touched with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var value: Value

    init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` with the lock held.
    func withLock<Result, E: Error>(_ body: (inout Value) throws(E) -> Result) throws(E) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }

    /// Runs `body` with the lock held until it returns a result, sleeping
    /// between calls until another thread calls ``broadcast()``. (Not an
    /// overload of ``withLock(_:)``: a closure returning an optional would
    /// silently pick the waiting one.)
    @discardableResult
    func waitUntil<Result, E: Error>(_ body: (inout Value) throws(E) -> Result?) throws(E) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while true {
            if let result = try body(&value) { return result }
            pthread_cond_wait(condition, mutex)
        }
    }

    /// ``waitUntil(_:)`` giving up after `timeout` seconds: nil then.
    @discardableResult
    func waitUntil<Result, E: Error>(timeout: Double, _ body: (inout Value) throws(E) -> Result?) throws(E) -> Result? {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        let nanoseconds = Int(deadline.tv_nsec) + Int((timeout - timeout.rounded(.down)) * 1_000_000_000)
        deadline.tv_sec += Int(timeout) + nanoseconds / 1_000_000_000
        deadline.tv_nsec = nanoseconds % 1_000_000_000
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while true {
            if let result = try body(&value) { return result }
            if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT { return try body(&value) }
        }
    }

    /// Wakes every thread waiting in ``waitUntil(_:)``. Call it
    /// after changing the value, with or without the lock held.
    func broadcast() {
        pthread_cond_broadcast(condition)
    }
}
