// SetOptionFromString / OptionNames (include/bitgask/options.h).
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <limits>

#include "bitgask/options.h"

namespace bitgask {
namespace {

bool ParseBool(std::string_view v, bool* out) {
  if (v == "1" || v == "true" || v == "yes" || v == "on") return *out = true, true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return *out = false, true;
  return false;
}

// Splits "123abc" into 123 and "abc"; false without leading digits or on overflow.
bool SplitNumber(std::string_view v, uint64_t* n, std::string_view* unit) {
  size_t i = 0;
  uint64_t x = 0;
  while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) {
    const uint64_t d = static_cast<uint64_t>(v[i] - '0');
    if (x > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    x = x * 10 + d;
    i++;
  }
  if (i == 0) return false;
  *n = x;
  *unit = v.substr(i);
  return true;
}

bool ParseSize(std::string_view v, uint64_t* out) {
  uint64_t n;
  std::string_view unit;
  if (!SplitNumber(v, &n, &unit)) return false;
  int shift = 0;
  if (unit == "K" || unit == "k") shift = 10;
  else if (unit == "M" || unit == "m") shift = 20;
  else if (unit == "G" || unit == "g") shift = 30;
  else if (!unit.empty()) return false;
  if (shift > 0 && n > (std::numeric_limits<uint64_t>::max() >> shift)) return false;
  *out = n << shift;
  return true;
}

bool ParseMillis(std::string_view v, std::chrono::milliseconds* out) {
  uint64_t n;
  std::string_view unit;
  if (!SplitNumber(v, &n, &unit)) return false;
  uint64_t mul;
  if (unit == "ms") mul = 1;
  else if (unit.empty() || unit == "s") mul = 1000;
  else if (unit == "m") mul = 60 * 1000;
  else if (unit == "h") mul = 3600 * 1000;
  else return false;
  if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / 1000000) / mul) return false;
  *out = std::chrono::milliseconds(static_cast<int64_t>(n * mul));
  return true;
}

bool ParseRatio(std::string_view v, double* out) {
  std::string s(v);
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  double d = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size()) return false;
  *out = d;
  return true;
}

using Setter = std::function<bool(std::string_view, Options*)>;

struct Entry {
  const char* name;
  const char* syntax;  // for the error message
  Setter set;
};

Setter Bool(bool Options::*f) {
  return [f](std::string_view v, Options* o) { return ParseBool(v, &(o->*f)); };
}
Setter Size(uint64_t Options::*f, uint64_t lo, uint64_t hi) {
  return [=](std::string_view v, Options* o) {
    uint64_t n;
    if (!ParseSize(v, &n) || n < lo || n > hi) return false;
    o->*f = n;
    return true;
  };
}
Setter Size32(uint32_t Options::*f, uint64_t lo, uint64_t hi) {
  return [=](std::string_view v, Options* o) {
    uint64_t n;
    if (!ParseSize(v, &n) || n < lo || n > hi) return false;
    o->*f = static_cast<uint32_t>(n);
    return true;
  };
}
Setter Millis(std::chrono::milliseconds Options::*f) {
  return [f](std::string_view v, Options* o) { return ParseMillis(v, &(o->*f)); };
}

const std::vector<Entry>& Table() {
  static const std::vector<Entry> table = {
      {"sync_on_put", "true or false", Bool(&Options::sync_on_put)},
      {"sync_on_delete", "true or false", Bool(&Options::sync_on_delete)},
      {"sync_interval", "a duration such as 500ms, 1s, 0", Millis(&Options::sync_interval)},
      {"max_data_file_size", "a size from 4K to 4G - 1",
       Size(&Options::max_data_file_size, 4096, 0xFFFFFFFFull)},
      {"max_key_size", "a size from 1 to 65535", Size32(&Options::max_key_size, 1, 65535)},
      {"max_value_size", "a size up to 4G - 1",
       Size32(&Options::max_value_size, 0, 0xFFFFFFFFull)},
      {"compression_threshold", "a size, 0 for off",
       Size32(&Options::compression_threshold, 0, 0xFFFFFFFFull)},
      {"default_ttl", "a duration such as 30s, 10m, 0 for none",
       [](std::string_view v, Options* o) {
         std::chrono::milliseconds ms;
         if (!ParseMillis(v, &ms)) return false;
         o->default_ttl = ms;
         return true;
       }},
      {"use_hint_files", "true or false", Bool(&Options::use_hint_files)},
      {"validate_on_open", "true or false", Bool(&Options::validate_on_open)},
      {"mmap_reads", "true or false", Bool(&Options::mmap_reads)},
      {"mmap_writes", "true or false", Bool(&Options::mmap_writes)},
      {"lock_timeout", "a duration such as 5s", Millis(&Options::lock_timeout)},
      {"merge_interval", "a duration such as 60, 10m, 0 for never",
       Millis(&Options::merge_interval)},
      {"merge_trigger_ratio", "a number from 0 to 1",
       [](std::string_view v, Options* o) {
         double d;
         if (!ParseRatio(v, &d) || !(d >= 0 && d <= 1)) return false;
         o->merge_trigger_ratio = d;
         return true;
       }},
      {"merge_min_total", "a size such as 64M",
       Size(&Options::merge_min_total, 0, std::numeric_limits<uint64_t>::max())},
      {"merge_on_open", "true or false", Bool(&Options::merge_on_open)},
      {"create_if_missing", "true or false", Bool(&Options::create_if_missing)},
      {"error_if_missing", "true or false", Bool(&Options::error_if_missing)},
  };
  return table;
}

}  // namespace

Status SetOptionFromString(Options* o, std::string_view name, std::string_view value) {
  for (const Entry& e : Table()) {
    if (name != e.name) continue;
    Options copy = *o;
    if (!e.set(value, &copy)) {
      return Status::InvalidArgument("bad value for " + std::string(name) + ": '" +
                                     std::string(value) + "' (" + e.syntax + ")");
    }
    *o = copy;
    return Status::OK();
  }
  return Status::InvalidArgument("unknown option " + std::string(name));
}

const std::vector<std::string>& OptionNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const Entry& e : Table()) v.push_back(e.name);
    return v;
  }();
  return names;
}

}  // namespace bitgask
