#if canImport(Glibc)
import Glibc
#endif
import FuzzTargets
import LibFuzzerDriver

// Hands the command line to libFuzzer. Returning from the callback means the
// input was handled; a trap, a sanitizer report, a timeout or too much memory
// is a finding.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, count in
    IndexFileFuzzTarget.run(count == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: count)))
    return 0
})
