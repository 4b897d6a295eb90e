#include "unmapped_name.h"

#include <cstdint>
#include <cstdio>

#include "path_map.h"

namespace bitgask {
namespace fs {
namespace {

const char kHex[] = "0123456789ABCDEF";

void AppendEscape(unsigned char c, std::string* out) {
  out->push_back('%');
  out->push_back(kHex[c >> 4]);
  out->push_back(kHex[c & 15]);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

uint64_t Fnv1a64(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

std::string EncodeUnmappedName(std::string_view key) {
  std::string out;
  if (key == "." || key == "..") {
    for (size_t i = 0; i < key.size(); i++) AppendEscape('.', &out);
    return out;
  }
  for (unsigned char c : key) {
    if (c == '/' || c == '%' || c < 0x20 || c > 0x7E) {
      AppendEscape(c, &out);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (out.size() <= kMaxNameLen) return out;
  size_t cut = kShortPrefix;
  // Do not cut inside an escape: back up to its '%'.
  if (out[cut - 1] == '%') cut -= 1;
  else if (cut >= 2 && out[cut - 2] == '%') cut -= 2;
  char hash[17];
  std::snprintf(hash, sizeof(hash), "%016llx", static_cast<unsigned long long>(Fnv1a64(key)));
  return out.substr(0, cut) + "%~" + hash;
}

bool DecodeUnmappedName(std::string_view name, std::string* key) {
  key->clear();
  for (size_t i = 0; i < name.size(); i++) {
    if (name[i] != '%') {
      key->push_back(name[i]);
      continue;
    }
    if (i + 2 >= name.size()) return false;
    int hi = HexValue(name[i + 1]), lo = HexValue(name[i + 2]);
    if (hi < 0 || lo < 0) return false;  // includes the shortened form's "%~"
    key->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  // Only the canonical encoding names a key (no aliases such as %41 for A).
  return !key->empty() && EncodeUnmappedName(*key) == name;
}

}  // namespace fs
}  // namespace bitgask
