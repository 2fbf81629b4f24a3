import FuzzTargets
import FuzzerMain

runLibFuzzer(IndexFileFuzzTarget.run)
