#include "mount_options.h"

#include <set>

namespace bitgask {
namespace fs {

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
    if (has_value) {
      Status st = SetOptionFromString(&out->engine, name, value);
      if (!st.ok()) {
        *error = st.message();
        return false;
      }
      continue;
    }
    *error = "unknown option " + opt;
    return false;
  }
  return true;
}

}  // namespace fs
}  // namespace bitgask
