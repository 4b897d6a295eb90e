// The plain-program driver of a fuzz target, for `make check` with any
// compiler (the libFuzzer build links libFuzzer's main instead).
//
//   NAME_fuzz [FILE|DIR ...]
//
// Runs the target over every file given (a directory: every file in it; no
// arguments: $BITGASK_FUZZ_CORPUS/NAME, NAME being the program's name
// without "_fuzz"), then over BITGASK_FUZZ_ITERS (default 1000) inputs made
// from BITGASK_FUZZ_SEED (default 1): random bytes, and seeds mutated as
// libFuzzer would (bit flips, overwritten and interesting length fields,
// cuts, insertions, splices). The same seed gives the same inputs.
//
// A failing input is written to ./crash-NAME-<n> before the program dies,
// so it can be replayed (NAME_fuzz crash-NAME-<n>) and added to the corpus.
// Each input has 20 seconds (SIGALRM ends a hang). Outside the sanitizer
// builds, an allocation over 512 MiB aborts, like libFuzzer's
// -malloc_limit_mb: a length field must never size an allocation unchecked.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "fuzz_target.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BITGASK_FUZZ_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define BITGASK_FUZZ_SANITIZED 1
#endif
#endif

#ifdef BITGASK_FUZZ_SANITIZED
#include <sanitizer/common_interface_defs.h>
#endif

namespace {

constexpr size_t kMaxAllocation = size_t{512} << 20;
constexpr unsigned kSecondsPerInput = 20;

// The input being run, for the crash handler.
const std::string* g_current = nullptr;
char g_crash_path[256];

void WriteCurrent() {
  if (g_current != nullptr) {
    int fd = open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ssize_t ignored = write(fd, g_current->data(), g_current->size());
      (void)ignored;
      close(fd);
    }
    static const char kMsg[] = "fuzz_driver: failing input written to ";
    ssize_t ignored = write(2, kMsg, sizeof(kMsg) - 1);
    ignored = write(2, g_crash_path, strlen(g_crash_path));
    ignored = write(2, "\n", 1);
    (void)ignored;
  }
}

void DumpCurrent(int sig) {
  WriteCurrent();
  signal(sig, SIG_DFL);
  raise(sig);
}

std::vector<std::string> ReadCorpus(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& p : paths) {
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::directory_iterator(p)) {
        if (e.is_regular_file()) files.push_back(e.path().string());
      }
    } else {
      files.push_back(p);
    }
  }
  std::sort(files.begin(), files.end());  // a fixed order, whatever readdir says
  std::vector<std::string> inputs;
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "fuzz_driver: cannot read %s\n", f.c_str());
      std::exit(1);
    }
    inputs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return inputs;
}

// One libFuzzer-like mutation step.
void MutateOnce(std::string* s, const std::vector<std::string>& seeds, std::mt19937_64& rng) {
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  static const uint32_t kInteresting[] = {0,          1,          0x7F,       0x80,
                                          0xFF,       0x100,      0x7FFF,     0xFFFF,
                                          0x10000,    0x10004,    0x7FFFFFFF, 0x80000000,
                                          0xFFFFFFFE, 0xFFFFFFFF};
  switch (rng() % 7) {
    case 0:  // flip a bit
      if (!s->empty()) (*s)[pick(s->size())] ^= static_cast<char>(1 << (rng() % 8));
      break;
    case 1:  // overwrite a byte
      if (!s->empty()) (*s)[pick(s->size())] = static_cast<char>(rng());
      break;
    case 2:  // an interesting little-endian 32-bit value (a length field)
      if (s->size() >= 4) {
        const uint32_t v = kInteresting[pick(std::size(kInteresting))];
        const size_t at = pick(s->size() - 3);
        for (int i = 0; i < 4; i++) (*s)[at + i] = static_cast<char>(v >> (8 * i));
      }
      break;
    case 3:  // cut the tail
      if (!s->empty()) s->resize(pick(s->size()));
      break;
    case 4: {  // insert random bytes
      std::string bytes(1 + pick(16), '\0');
      for (char& c : bytes) c = static_cast<char>(rng());
      s->insert(pick(s->size() + 1), bytes);
      break;
    }
    case 5:  // erase a range
      if (!s->empty()) {
        const size_t at = pick(s->size());
        s->erase(at, 1 + pick(s->size() - at));
      }
      break;
    case 6:  // splice in a piece of another seed
      if (!seeds.empty()) {
        const std::string& other = seeds[pick(seeds.size())];
        const size_t from = pick(other.size() + 1);
        s->insert(pick(s->size() + 1), other.substr(from, pick(other.size() - from + 1)));
      }
      break;
  }
}

std::string MakeInput(const std::vector<std::string>& seeds, std::mt19937_64& rng) {
  if (seeds.empty() || rng() % 4 == 0) {
    std::string s(rng() % 512, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  }
  std::string s = seeds[rng() % seeds.size()];
  const int steps = 1 + static_cast<int>(rng() % 8);
  for (int i = 0; i < steps; i++) MutateOnce(&s, seeds, rng);
  return s;
}

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

}  // namespace

#ifndef BITGASK_FUZZ_SANITIZED
// The allocation limit (the sanitizer builds have their own allocator).
void* operator new(size_t n) {
  if (n > kMaxAllocation) {
    std::fprintf(stderr, "fuzz_driver: allocation of %zu bytes (limit %zu)\n", n, kMaxAllocation);
    std::abort();
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#else
extern "C" const char* __asan_default_options() {
  return "max_allocation_size_mb=512:allocator_may_return_null=0";
}
#endif

int main(int argc, char** argv) {
  std::string name = std::filesystem::path(argv[0]).filename().string();
  if (name.size() > 5 && name.compare(name.size() - 5, 5, "_fuzz") == 0) {
    name.resize(name.size() - 5);
  }
  std::vector<std::string> paths(argv + 1, argv + argc);
  if (paths.empty()) {
    const char* root = std::getenv("BITGASK_FUZZ_CORPUS");
    if (root == nullptr) {
      std::fprintf(stderr, "usage: %s FILE|DIR... (or set BITGASK_FUZZ_CORPUS)\n", argv[0]);
      return 2;
    }
    paths.push_back(std::string(root) + "/" + name);
  }
  const std::vector<std::string> seeds = ReadCorpus(paths);
  const uint64_t iters = argc > 1 ? 0 : EnvNumber("BITGASK_FUZZ_ITERS", 1000);
  const uint64_t seed = EnvNumber("BITGASK_FUZZ_SEED", 1);

  for (int sig : {SIGABRT, SIGALRM}) signal(sig, DumpCurrent);
#ifdef BITGASK_FUZZ_SANITIZED
  // The sanitizers report memory errors themselves, then call this.
  __sanitizer_set_death_callback(WriteCurrent);
#else
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) signal(sig, DumpCurrent);
#endif
  std::mt19937_64 rng(seed);
  for (uint64_t i = 0; i < seeds.size() + iters; i++) {
    const std::string input = i < seeds.size() ? seeds[i] : MakeInput(seeds, rng);
    std::snprintf(g_crash_path, sizeof(g_crash_path), "crash-%s-%llu", name.c_str(),
                  static_cast<unsigned long long>(i));
    g_current = &input;
    alarm(kSecondsPerInput);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    alarm(0);
    g_current = nullptr;
  }
  std::printf("%s: %zu corpus inputs and %llu generated (BITGASK_FUZZ_SEED=%llu) passed\n",
              name.c_str(), seeds.size(), static_cast<unsigned long long>(iters),
              static_cast<unsigned long long>(seed));
  return 0;
}
