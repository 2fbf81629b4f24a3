#ifndef LIB_FUZZER_DRIVER_H
#define LIB_FUZZER_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer on the command line, calling `callback` with each input
/// (compiler-rt's FuzzerDriver.cpp; linked with -sanitize=fuzzer). For
/// programs with a main of their own: SwiftPM links every executable's
/// entry point as `main`, which leaves libFuzzer's main out of the link.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
