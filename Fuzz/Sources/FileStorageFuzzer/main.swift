import FuzzTargets
import FuzzerMain

runLibFuzzer(FileStorageFuzzTarget.run)
