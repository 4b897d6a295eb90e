// CRC-32 (IEEE 802.3, the polynomial of zlib and gzip), computed by zlib.
#ifndef BITGASK_ENGINE_CRC32_H_
#define BITGASK_ENGINE_CRC32_H_

#include <zlib.h>

#include <cstddef>
#include <cstdint>

namespace bitgask {
namespace internal {

// Extends crc (0 for a fresh checksum) with n bytes of data.
inline uint32_t Crc32(uint32_t crc, const char* data, size_t n) {
  while (n > 0) {  // zlib takes a uInt length
    uInt chunk = n > (1u << 30) ? (1u << 30) : static_cast<uInt>(n);
    crc = static_cast<uint32_t>(::crc32(crc, reinterpret_cast<const Bytef*>(data), chunk));
    data += chunk;
    n -= chunk;
  }
  return crc;
}

// The CRC of A followed by B, from crc_a, crc_b and B's length. CRC-32 is
// linear, so also crc_b == crc_ab ^ Crc32Combine(crc_a, 0, len_b).
inline uint32_t Crc32Combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) {
  return static_cast<uint32_t>(::crc32_combine64(crc_a, crc_b, static_cast<z_off64_t>(len_b)));
}

}  // namespace internal
}  // namespace bitgask

#endif  // BITGASK_ENGINE_CRC32_H_
