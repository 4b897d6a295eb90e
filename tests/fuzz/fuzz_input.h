// FuzzInput: takes typed pieces off the front of a fuzz input. Never reads
// past the end: a piece asked for beyond it comes back short or zero, so
// every byte string is a valid input.
#ifndef BITGASK_TESTS_FUZZ_FUZZ_INPUT_H_
#define BITGASK_TESTS_FUZZ_FUZZ_INPUT_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  uint8_t TakeByte() {
    if (rest_.empty()) return 0;
    const uint8_t b = static_cast<uint8_t>(rest_[0]);
    rest_.remove_prefix(1);
    return b;
  }
  // A little-endian 32-bit number (missing bytes are zero).
  uint32_t TakeU32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= static_cast<uint32_t>(TakeByte()) << (8 * i);
    return v;
  }
  // Up to n bytes.
  std::string_view TakeBytes(size_t n) {
    const std::string_view out = rest_.substr(0, std::min(n, rest_.size()));
    rest_.remove_prefix(out.size());
    return out;
  }
  // A piece whose length is the next 32-bit number (cut to what is left).
  std::string_view TakeLengthPrefixed() { return TakeBytes(TakeU32()); }
  std::string_view Rest() {
    const std::string_view out = rest_;
    rest_ = {};
    return out;
  }

 private:
  std::string_view rest_;
};

#endif  // BITGASK_TESTS_FUZZ_FUZZ_INPUT_H_
