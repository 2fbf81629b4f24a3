import FuzzTargets
import FuzzerMain

runLibFuzzer(PackFuzzTarget.run)
