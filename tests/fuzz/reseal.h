// Reseal: recomputes the checksums of fuzzed files, so a fuzz target can get
// past the CRC checks and reach the code behind them (length fields, flags,
// offsets a checksum would otherwise always reject). Layouts: docs/Format.md.
#ifndef BITGASK_TESTS_FUZZ_RESEAL_H_
#define BITGASK_TESTS_FUZZ_RESEAL_H_

#include <string>

// Walks the records of a data file from its start and rewrites each CRC;
// stops at the first header that does not decode or does not fit.
void ResealDataFile(std::string* file);

// Makes the last 20 bytes a valid hint trailer for the bytes before them:
// the count of whole entries found there, their CRC and the magic. A file
// shorter than a trailer is left alone.
void ResealHintFile(std::string* file);

#endif  // BITGASK_TESTS_FUZZ_RESEAL_H_
