#if canImport(Glibc)
import Glibc
#endif

/// A joinable POSIX thread running one closure. The session uses one to
/// finish the mount while its own thread runs the loop; Dispatch and Swift
/// concurrency are left out of the FUSE path on purpose.
struct BackgroundThread {
    private let thread: pthread_t

    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Starts `body` on a new thread; nil if the thread could not be created.
    static func start(_ body: @escaping @Sendable () -> Void) -> BackgroundThread? {
        let box = Unmanaged.passRetained(Body(body))
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { argument in
            guard let argument else { return nil }
            Unmanaged<Body>.fromOpaque(argument).takeRetainedValue().run()
            return nil
        }, box.toOpaque())
        guard result == 0 else {
            box.release()
            return nil
        }
        return BackgroundThread(thread: thread)
    }

    /// Waits for the closure to return.
    func join() {
        pthread_join(thread, nil)
    }
}
