// The contract of every fuzz target in tests/fuzz/ (one *_fuzz.cc each).
//
// A target defines LLVMFuzzerTestOneInput, libFuzzer's entry point: it gets
// arbitrary bytes and must return 0 without crashing, hanging or making an
// allocation sized by a length field it read; an error status from the code
// under test is a normal outcome. A property the code promises (a round
// trip, a count) is checked with FUZZ_CHECK, which aborts on failure so
// both drivers report it as a crash.
//
// Two drivers run the same target:
//   * `make fuzz` (configure --enable-fuzzing, clang): libFuzzer's own main,
//     coverage-guided, with address and undefined-behaviour sanitizers;
//   * `make check` (any compiler): fuzz_driver.cc, which replays the seed
//     corpus plus deterministic random and mutated inputs.
#ifndef BITGASK_TESTS_FUZZ_FUZZ_TARGET_H_
#define BITGASK_TESTS_FUZZ_FUZZ_TARGET_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

#define FUZZ_CHECK(cond)                                                             \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                  \
    }                                                                                \
  } while (0)

#endif  // BITGASK_TESTS_FUZZ_FUZZ_TARGET_H_
