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

}  // namespace internal
}  // namespace bitgask

#endif  // BITGASK_ENGINE_CRC32_H_
