#include "mount_options.h"

#include <grp.h>
#include <pwd.h>

#include <cerrno>
#include <cstdlib>
#include <set>

namespace bitgask {
namespace fs {

namespace {

// A whole decimal number (or, with base 8, octal) within max.
bool ParseNumber(const std::string& text, int base, unsigned long max, unsigned long* out) {
  if (text.empty() || text[0] == '-' || text[0] == '+') return false;
  char* end = nullptr;
  errno = 0;
  unsigned long v = std::strtoul(text.c_str(), &end, base);
  if (errno != 0 || *end != '\0' || v > max) return false;
  *out = v;
  return true;
}

// uid=, gid=, umask=: true when name is one of them (*error set if bad).
bool ParsePresentation(const std::string& name, const std::string& value, FsOptions* fs,
                       std::string* error) {
  unsigned long v;
  if (name == "uid") {
    if (ParseNumber(value, 10, 0xFFFFFFFEul, &v)) {
      fs->uid = static_cast<uid_t>(v);
    } else if (struct passwd* pw = getpwnam(value.c_str())) {
      fs->uid = pw->pw_uid;
    } else {
      *error = "bad value for uid: " + value + " (a user name or number)";
    }
  } else if (name == "gid") {
    if (ParseNumber(value, 10, 0xFFFFFFFEul, &v)) {
      fs->gid = static_cast<gid_t>(v);
    } else if (struct group* gr = getgrnam(value.c_str())) {
      fs->gid = gr->gr_gid;
    } else {
      *error = "bad value for gid: " + value + " (a group name or number)";
    }
  } else if (name == "umask") {
    if (ParseNumber(value, 8, 0777, &v)) {
      fs->umask = static_cast<mode_t>(v);
    } else {
      *error = "bad value for umask: " + value + " (octal, 0 to 777)";
    }
  } else {
    return false;
  }
  return true;
}

}  // namespace

bool ParseMountOptions(const std::string& list, MountOptions* out, std::string* error) {
  static const std::set<std::string> kIgnored = {
      "_netdev", "nofail",  "auto",   "noauto", "user",       "users",     "defaults",
      "rw",      "noatime", "atime",  "relatime", "norelatime", "strictatime", "nodiratime",
      "diratime", "lazytime", "suid", "nosuid", "dev",        "nodev",     "exec",
      "noexec",  "async"};
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
    if (name.compare(0, 2, "x-") == 0 || name == "comment") continue;  // fstab annotations
    if (!has_value && name == "nonempty") {
      out->nonempty = true;
      continue;
    }
    if (has_value &&
        (name == "resp" || name == "resp_requirepass" || name == "resp_requirepass_file")) {
      if (value.empty()) {
        *error = "bad value for " + name + ": empty";
        return false;
      }
      (name == "resp"               ? out->resp_addr
       : name == "resp_requirepass" ? out->resp_requirepass
                                    : out->resp_requirepass_file) = value;
      if (!out->resp_requirepass.empty() && !out->resp_requirepass_file.empty()) {
        *error = "resp_requirepass and resp_requirepass_file exclude each other";
        return false;
      }
      continue;
    }
    std::string bad;
    if (has_value && ParsePresentation(name, value, &out->fs, &bad)) {
      if (bad.empty()) continue;
      *error = bad;
      return false;
    }
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
  out->fs.default_ttl = out->engine.default_ttl;
  out->fs.sync_on_put = out->engine.sync_on_put;
  return true;
}

}  // namespace fs
}  // namespace bitgask
