#include "bench_keys.h"

#include <algorithm>
#include <random>

namespace bitgask {
namespace cli {
namespace {

constexpr size_t kRandomBytes = 1 << 20;

void PutBigEndian64(uint64_t v, char* dst) {
  for (int b = 7; b >= 0; b--) {
    dst[b] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

}  // namespace

uint64_t Mix64(uint64_t x) {
  // Each step (xor with a right shift, multiply by an odd constant) is
  // invertible, so the whole is a bijection.
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

KeyGen::KeyGen(size_t key_size, size_t value_size, uint64_t seed)
    : key_size_(key_size), value_size_(value_size), seed_(seed) {
  std::mt19937_64 rng(seed);
  random_.resize(value_size + kRandomBytes);
  for (char& c : random_) c = static_cast<char>(rng());
}

void KeyGen::Key(uint64_t i, std::string* out) const {
  out->resize(key_size_);
  char* p = out->data();
  uint64_t word = Mix64(i ^ seed_);  // bijective in i for a fixed seed
  PutBigEndian64(word, p);
  for (size_t at = 8; at < key_size_; at += 8) {
    word = Mix64(word + 0x9e3779b97f4a7c15ULL);
    char buf[8];
    PutBigEndian64(word, buf);
    std::copy(buf, buf + std::min<size_t>(8, key_size_ - at), p + at);
  }
}

std::string_view KeyGen::Value(uint64_t n) const {
  const size_t offset = static_cast<size_t>(Mix64(n) % kRandomBytes);
  return std::string_view(random_).substr(offset, value_size_);
}

std::vector<uint64_t> KeyGen::InKeyOrder(uint64_t num) const {
  std::vector<uint64_t> order(num);
  for (uint64_t i = 0; i < num; i++) order[i] = i;
  // The first 8 bytes decide the order (they differ for every i).
  std::sort(order.begin(), order.end(),
            [this](uint64_t a, uint64_t b) { return Mix64(a ^ seed_) < Mix64(b ^ seed_); });
  return order;
}

std::vector<uint64_t> KeyGen::Shuffled(uint64_t num) const {
  std::vector<uint64_t> order(num);
  for (uint64_t i = 0; i < num; i++) order[i] = i;
  std::mt19937_64 rng(seed_ + 1);
  std::shuffle(order.begin(), order.end(), rng);
  return order;
}

}  // namespace cli
}  // namespace bitgask
