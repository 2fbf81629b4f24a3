#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A value behind a pthread mutex: every lock in zodbfs.
///
/// Not `Synchronization.Mutex`: on Linux its contended path sleeps on a
/// futex inside the Swift runtime, where ThreadSanitizer cannot see it, so
/// two threads that took turns properly are reported as racing — every
/// contended lock becomes a false report, and real ones drown. The pthread
/// mutex is one the sanitizer intercepts. Uncontended, both cost one atomic
/// operation.
///
/// A class, not a noncopyable struct: a `let` of it is shared by reference
/// wherever it is stored or captured, as a lock must be.
///
/// The value lives in an allocation of its own rather than in a stored
/// property: a `Guarded<Void>` (a plain lock) would otherwise have a
/// zero-sized property at the address of `mutex`, and the sanitizer would
/// take the `inout` access of the one for a write to the other.
public final class Guarded<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let value = UnsafeMutablePointer<Value>.allocate(capacity: 1)

    public init(_ value: Value) {
        self.value.initialize(to: value)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        value.deinitialize(count: 1)
        value.deallocate()
    }

    /// Runs `body` with the value, holding the lock.
    public func withLock<Result, E: Error>(_ body: (inout Value) throws(E) -> Result) throws(E) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value.pointee)
    }
}
