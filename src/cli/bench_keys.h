// bench_keys: the keys and values of `bitgask bench`.
//
// Contract: key number i (any uint64) is key_size bytes (key_size >= 8) of
// random-looking bytes; its first 8 bytes are a bijection of i, so distinct
// numbers always give distinct keys, and numbers >= num give keys that are
// never among those of 0..num-1 (readmissing). Values are slices of one
// buffer of random bytes (incompressible, so snappy keeps them as they are).
// Everything is determined by the seed. Pure: no I/O; const methods are
// safe from any thread.
#ifndef BITGASK_SRC_CLI_BENCH_KEYS_H_
#define BITGASK_SRC_CLI_BENCH_KEYS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bitgask {
namespace cli {

constexpr size_t kMinBenchKeySize = 8;

class KeyGen {
 public:
  KeyGen(size_t key_size, size_t value_size, uint64_t seed);

  // Writes key number i into *out (resized to key_size).
  void Key(uint64_t i, std::string* out) const;
  // A value_size slice of the random buffer, different for nearby n.
  std::string_view Value(uint64_t n) const;

  // 0..num-1 in the byte order of their keys (fillseq).
  std::vector<uint64_t> InKeyOrder(uint64_t num) const;
  // 0..num-1 in a random order determined by the seed (fill, overwrite,
  // delete: each key once).
  std::vector<uint64_t> Shuffled(uint64_t num) const;

 private:
  const size_t key_size_;
  const size_t value_size_;
  const uint64_t seed_;
  std::string random_;  // value_size + 1 MiB random bytes
};

// A bijective mixing of 64 bits (the splitmix64 finalizer).
uint64_t Mix64(uint64_t x);

}  // namespace cli
}  // namespace bitgask

#endif  // BITGASK_SRC_CLI_BENCH_KEYS_H_
