import FuzzTargets
import FuzzerMain

runLibFuzzer(PickleFuzzTarget.run)
