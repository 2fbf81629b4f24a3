import FuzzTargets
import FuzzerMain

runLibFuzzer(DatFileFuzzTarget.run)
