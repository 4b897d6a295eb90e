#include "harness.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

namespace bitgask {
namespace crash {

Budget::Budget(const char* name, double default_seconds)
    : name_(name), seconds_(default_seconds), start_(std::chrono::steady_clock::now()) {
  const char* s = std::getenv("BITGASK_CRASH_SEED");
  seed_ = s && *s ? std::strtoull(s, nullptr, 0)
                  : static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  const char* secs = std::getenv("BITGASK_CRASH_SECONDS");
  const char* iters = std::getenv("BITGASK_CRASH_ITERS");
  if (secs && *secs) {
    seconds_ = std::atof(secs);
  } else if (iters && *iters) {
    iters_ = std::strtoull(iters, nullptr, 10);
  }
  std::printf("%s: seed %llu (BITGASK_CRASH_SEED=%llu repeats the choices), ", name_,
              static_cast<unsigned long long>(seed_), static_cast<unsigned long long>(seed_));
  if (iters_) {
    std::printf("%llu iterations\n", static_cast<unsigned long long>(iters_));
  } else {
    std::printf("%.0f s\n", seconds_);
  }
  std::fflush(stdout);
}

bool Budget::More(uint64_t done) const {
  if (iters_) return done < iters_;
  return done == 0 || Elapsed() < seconds_;
}

double Budget::Elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

ScratchDir::ScratchDir(const char* name) {
  const char* t = std::getenv("TMPDIR");
  std::string tmpl = std::string(t && *t ? t : "/tmp") + "/bitgask-" + name + ".XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    std::fprintf(stderr, "FAIL: mkdtemp %s: %s\n", tmpl.c_str(), std::strerror(errno));
    std::exit(1);
  }
  path_ = buf.data();
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void Fail(const Budget& b, const std::string& what) {
  std::fflush(stdout);
  std::fprintf(stderr, "FAIL: %s: %s\n  seed %llu: BITGASK_CRASH_SEED=%llu repeats the choices "
               "(kill timings vary); the scratch directory is kept\n",
               b.name(), what.c_str(), static_cast<unsigned long long>(b.seed()),
               static_cast<unsigned long long>(b.seed()));
  std::exit(1);
}

void History::Add(int writer, std::string what) {
  std::deque<std::string>& h = ops_[writer];
  h.push_back(std::move(what));
  if (h.size() > 40) h.pop_front();
}

std::string History::Of(const char* who, int writer) const {
  std::string s = "\n  last operations of " + std::string(who) + " " + std::to_string(writer) + ":";
  auto it = ops_.find(writer);
  if (it != ops_.end()) {
    for (const std::string& h : it->second) s += "\n    " + h;
  }
  return s;
}

void SleepMicros(int64_t us) {
  if (us > 0) std::this_thread::sleep_for(std::chrono::microseconds(us));
}

}  // namespace crash
}  // namespace bitgask
