#if canImport(Glibc)
import Glibc
#endif
import CFuse3
import Synchronization

/// SIGINT, SIGTERM and SIGHUP end the session loop; the session then
/// unmounts as after any other exit. SIGPIPE is ignored while the session
/// runs.
///
/// libfuse's handlers (`fuse_set_signal_handlers`) only mark the session as
/// exited. `fuse_session_loop_mt` notices that when the signal interrupts
/// its own thread (waiting in `sem_wait`) or a worker (blocked in `read` on
/// /dev/fuse). A process-directed signal may instead land on any other
/// thread, one of the filesystem's say, and the loop would sleep on until
/// the next request. So each libfuse handler is wrapped by `forwardSignal`,
/// which calls it and then re-sends the signal to the loop's thread.
///
/// The state the wrapper reads is in atomics, so the handler takes no lock
/// and allocates nothing. One session per process uses it at a time.
enum SignalHandling {
    static let signals: [Int32] = [SIGHUP, SIGINT, SIGTERM]

    /// Installs the handlers for `session` and directs signals to the calling
    /// thread. Returns the errno on failure.
    static func install(for session: OpaquePointer) -> Int32? {
        guard fuse_set_signal_handlers(session) == 0 else { return errno == 0 ? EINVAL : errno }
        // A process inherits its parent's signal mask (a test runner's or a
        // supervisor's threads often block everything): unblock ours here,
        // before the loop and its workers start and inherit this thread's mask.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for signal in signals { sigaddset(&unblock, signal) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        deliverToCurrentThread()
        for signal in signals {
            // libfuse leaves a signal alone that already had a handler or was ignored.
            guard let handler = cfuse_signal_current_handler(signal) else { continue }
            chainedHandler(signal, store: UInt(bitPattern: unsafeBitCast(handler, to: Int.self)))
            guard cfuse_signal_set_handler(signal, forwardSignal) == 0 else {
                let error = errno
                remove(for: session)
                return error
            }
        }
        return nil
    }

    /// Directs signals to the calling thread: call on the thread that runs
    /// the loop, right before it.
    static func deliverToCurrentThread() {
        loopThread.store(UInt(pthread_self()), ordering: .releasing)
    }

    /// Restores the dispositions from before `install(for:)`.
    static func remove(for session: OpaquePointer) {
        for signal in signals {
            let handler = chainedHandler(signal, store: 0)
            // fuse_remove_signal_handlers() only resets a signal whose handler is its own.
            if handler != 0 {
                cfuse_signal_set_handler(signal, unsafeBitCast(Int(bitPattern: handler), to: cfuse_signal_handler_t.self))
            }
        }
        fuse_remove_signal_handlers(session)
        loopThread.store(0, ordering: .releasing)
    }

    /// Replaces the chained handler of `signal`, returning the previous one.
    @discardableResult
    fileprivate static func chainedHandler(_ signal: Int32, store value: UInt) -> UInt {
        switch signal {
        case SIGHUP: chainedHangup.exchange(value, ordering: .acquiringAndReleasing)
        case SIGINT: chainedInterrupt.exchange(value, ordering: .acquiringAndReleasing)
        default: chainedTerminate.exchange(value, ordering: .acquiringAndReleasing)
        }
    }
}

/// `pthread_t` of the thread running the loop; 0 when none.
private let loopThread = Atomic<UInt>(0)
/// libfuse's handler per signal, as an address; 0 when not wrapped.
private let chainedHangup = Atomic<UInt>(0)
private let chainedInterrupt = Atomic<UInt>(0)
private let chainedTerminate = Atomic<UInt>(0)

/// The installed handler: libfuse's, then a re-delivery to the loop thread.
/// Runs in signal context: atomics, libc calls and nothing else.
private func forwardSignal(_ signal: Int32) {
    let savedErrno = errno
    let chained = switch signal {
    case SIGHUP: chainedHangup.load(ordering: .acquiring)
    case SIGINT: chainedInterrupt.load(ordering: .acquiring)
    case SIGTERM: chainedTerminate.load(ordering: .acquiring)
    default: UInt(0)
    }
    if chained != 0 {
        unsafeBitCast(Int(bitPattern: chained), to: (@convention(c) (Int32) -> Void).self)(signal)
    }
    let target = loopThread.load(ordering: .acquiring)
    if target != 0 && target != UInt(pthread_self()) {
        pthread_kill(pthread_t(target), signal)
    }
    errno = savedErrno
}
