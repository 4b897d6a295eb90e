// unmapped_name: the file names of unmapped keys under /.bitgask/unmapped/.
//
// Contract (docs/Filesystem.md):
//   * EncodeUnmappedName percent-encodes '/', '%' and every byte outside
//     printable ASCII (0x20..0x7E) as %XX (upper-case hex); a name that would
//     be "." or ".." has its dots encoded (%2E).
//   * When the encoded name is longer than kMaxNameLen bytes it is shortened
//     to its first kShortPrefix bytes (never cutting an %XX escape), then
//     "%~" and 16 hex digits of the 64-bit FNV-1a hash of the key.  "%~"
//     never appears in a full encoding, so the two forms cannot be confused.
//   * DecodeUnmappedName inverts a full encoding; it fails for a shortened
//     name (those are found by comparing encodings) and for text that no
//     key encodes to.
// Pure functions: no locks, no engine calls.
#ifndef BITGASK_FS_UNMAPPED_NAME_H_
#define BITGASK_FS_UNMAPPED_NAME_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace bitgask {
namespace fs {

constexpr size_t kShortPrefix = 200;

std::string EncodeUnmappedName(std::string_view key);
bool DecodeUnmappedName(std::string_view name, std::string* key);

}  // namespace fs
}  // namespace bitgask

#endif  // BITGASK_FS_UNMAPPED_NAME_H_
