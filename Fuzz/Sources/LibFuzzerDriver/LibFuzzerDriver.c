// LLVMFuzzerRunDriver itself comes from libFuzzer; this target only declares it.
#include "LibFuzzerDriver.h"
