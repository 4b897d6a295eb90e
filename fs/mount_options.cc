#include "mount_options.h"

#include <cctype>
#include <cstdlib>
#include <set>

namespace bitgask {
namespace fs {
namespace {

bool ParseBool(const std::string& v, bool* out) {
  if (v == "1" || v == "true" || v == "yes" || v == "on") { *out = true; return true; }
  if (v == "0" || v == "false" || v == "no" || v == "off") { *out = false; return true; }
  return false;
}

// Decimal with an optional K/M/G suffix (powers of 1024).
bool ParseSize(const std::string& v, uint64_t* out) {
  if (v.empty() || !std::isdigit(static_cast<unsigned char>(v[0]))) return false;
  char* end = nullptr;
  unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  std::string suffix(end);
  uint64_t mul = 1;
  if (suffix == "" ) mul = 1;
  else if (suffix == "K" || suffix == "k") mul = 1ull << 10;
  else if (suffix == "M" || suffix == "m") mul = 1ull << 20;
  else if (suffix == "G" || suffix == "g") mul = 1ull << 30;
  else return false;
  *out = static_cast<uint64_t>(n) * mul;
  return true;
}

}  // namespace

bool ParseMountOptions(const std::string& list, MountOptions* out, std::string* error) {
  static const std::set<std::string> kIgnored = {"_netdev", "nofail", "auto", "noauto",
                                                  "user",    "users",  "rw",   "noatime"};
  static const std::set<std::string> kFuse = {"allow_other", "default_permissions", "ro"};
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    std::string opt = list.substr(start, comma - start);
    start = comma + 1;
    if (opt.empty()) continue;
    std::string name = opt, value;
    size_t eq = opt.find('=');
    if (eq != std::string::npos) {
      name = opt.substr(0, eq);
      value = opt.substr(eq + 1);
    }
    const bool has_value = eq != std::string::npos;
    if (!has_value && kIgnored.count(name)) continue;
    if (!has_value && kFuse.count(name)) {
      out->fuse.push_back(name);
      continue;
    }
    if (!has_value && name == "debug") {
      out->debug = true;
      continue;
    }
    if (has_value && (name == "sync_on_put" || name == "sync_on_delete")) {
      bool b;
      if (!ParseBool(value, &b)) {
        *error = "bad value for " + name + ": " + value;
        return false;
      }
      (name == "sync_on_put" ? out->engine.sync_on_put : out->engine.sync_on_delete) = b;
      continue;
    }
    if (has_value && name == "max_data_file_size") {
      uint64_t n;
      if (!ParseSize(value, &n) || n == 0 || n > 0xFFFFFFFFull) {
        *error = "bad value for " + name + ": " + value;
        return false;
      }
      out->engine.max_data_file_size = n;
      continue;
    }
    *error = "unknown option " + opt;
    return false;
  }
  return true;
}

}  // namespace fs
}  // namespace bitgask
