// CRC-32 (IEEE 802.3, the polynomial of zlib and gzip): the checksum of
// records and hint files. Computed by ISA-L's crc32_gzip_refl (carry-less
// multiplication where the CPU has it; 4 to 8 times zlib's table-driven
// crc32 on records of 100 bytes to 4 KiB), which gives exactly zlib's
// crc32() for the same bytes and starting CRC, so the format is unchanged
// (record_test checks both against each other).
#ifndef BITGASK_ENGINE_CRC32_H_
#define BITGASK_ENGINE_CRC32_H_

#include <isa-l/crc.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>

namespace bitgask {
namespace internal {

// Extends crc (0 for a fresh checksum) with n bytes of data.
inline uint32_t Crc32(uint32_t crc, const char* data, size_t n) {
  return crc32_gzip_refl(crc, reinterpret_cast<const unsigned char*>(data), n);
}

// The CRC of A followed by B, from crc_a, crc_b and B's length. CRC-32 is
// linear, so also crc_b == crc_ab ^ Crc32Combine(crc_a, 0, len_b).
inline uint32_t Crc32Combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) {
  return static_cast<uint32_t>(::crc32_combine64(crc_a, crc_b, static_cast<z_off64_t>(len_b)));
}

}  // namespace internal
}  // namespace bitgask

#endif  // BITGASK_ENGINE_CRC32_H_
