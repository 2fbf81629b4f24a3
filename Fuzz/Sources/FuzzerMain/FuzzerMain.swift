#if canImport(Glibc)
import Glibc
#endif
import LibFuzzerDriver

/// The target of this executable. libFuzzer's callback is a C function
/// pointer and cannot capture it; it is set once, before libFuzzer starts.
nonisolated(unsafe) private var target: ([UInt8]) -> Void = { _ in }

/// Hands the command line to libFuzzer, which calls `run` with every input,
/// and exits with libFuzzer's status. Returning from `run` means the input
/// was handled; a trap, a sanitizer report, a timeout or too much memory is
/// a finding.
public func runLibFuzzer(_ run: @escaping ([UInt8]) -> Void) -> Never {
    target = run
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv) { data, count in
        target(count == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: count)))
        return 0
    })
}
